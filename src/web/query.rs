//! Query parameters of the list endpoints: strict parsing (an unknown, repeated or malformed
//! parameter is a 400 that names it) and paging over a list sorted by `namespace/name`.
//!
//! Two paging styles are accepted, never mixed: `limit` + `continue` (the Kubernetes way; the
//! token is opaque and stays valid while items come and go) and `page` + `pageSize` (1-based, for
//! people typing URLs). Either way the response carries the `continue` token of what follows.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use super::problem::ApiError;

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: usize = 500;
/// The most items one request returns.
pub const MAX_LIMIT: usize = 1000;

/// The raw pairs, checked against the parameters an endpoint knows.
#[derive(Debug)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(
        raw: Result<Query<Vec<(String, String)>>, QueryRejection>,
        known: &[&str],
    ) -> Result<Self, ApiError> {
        let Query(pairs) =
            raw.map_err(|e| ApiError::bad_request(format!("unreadable query string: {e}")))?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !known.contains(&name.as_str()) {
                return Err(ApiError::bad_parameter(
                    name,
                    format!(
                        "unknown query parameter '{name}'; this endpoint takes {}",
                        known.join(", ")
                    ),
                ));
            }
            if pairs[..i].iter().any(|(seen, _)| seen == name) {
                return Err(ApiError::bad_parameter(
                    name,
                    format!("query parameter '{name}' is given more than once"),
                ));
            }
        }
        Ok(Self { pairs })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A namespace or service name: a DNS label, as the API server would accept it.
    pub fn label(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.get(name)
            .map(|value| check_label(name, value).map(str::to_string))
            .transpose()
    }

    /// One of a fixed set of words.
    pub fn choice<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        allowed: &[&str],
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|value| {
                parse(value).ok_or_else(|| {
                    ApiError::bad_parameter(
                        name,
                        format!("'{value}' is not one of {}", allowed.join(", ")),
                    )
                })
            })
            .transpose()
    }

    /// A comma-separated list of words from a fixed set (`status=failed,rolled_back`).
    pub fn choices<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        allowed: &[&str],
    ) -> Result<Vec<T>, ApiError> {
        let Some(value) = self.get(name) else {
            return Ok(Vec::new());
        };
        value
            .split(',')
            .map(|word| {
                parse(word).ok_or_else(|| {
                    ApiError::bad_parameter(
                        name,
                        format!("'{word}' is not one of {}", allowed.join(", ")),
                    )
                })
            })
            .collect()
    }

    fn number(&self, name: &str, max: usize) -> Result<Option<usize>, ApiError> {
        self.get(name)
            .map(|value| match value.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_parameter(
                    name,
                    format!("'{value}' is not a whole number from 1 to {max}"),
                )),
            })
            .transpose()
    }

    /// `limit`/`continue` or `page`/`pageSize`.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let limit = self.number("limit", MAX_LIMIT)?;
        let after = self
            .get("continue")
            .map(|token| {
                decode_token(token).ok_or_else(|| {
                    ApiError::bad_parameter(
                        "continue",
                        "not a continue token from an earlier response",
                    )
                })
            })
            .transpose()?;
        let page = self.number("page", usize::MAX)?;
        let page_size = self.number("pageSize", MAX_LIMIT)?;
        if (limit.is_some() || after.is_some()) && (page.is_some() || page_size.is_some()) {
            return Err(ApiError::bad_request(
                "use either limit/continue or page/pageSize, not both",
            ));
        }
        Ok(match (page, page_size) {
            (None, None) => Paging::After {
                limit: limit.unwrap_or(DEFAULT_LIMIT),
                after,
            },
            (page, size) => Paging::Page {
                page: page.unwrap_or(1),
                size: size.unwrap_or(DEFAULT_LIMIT),
            },
        })
    }
}

/// Rejects anything the API server would not accept as a namespace or object name, so a bad
/// filter says so instead of silently matching nothing.
pub fn check_label<'a>(parameter: &str, value: &'a str) -> Result<&'a str, ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(value)
    } else {
        Err(ApiError::bad_parameter(
            parameter,
            format!(
                "'{}' is not a valid name (lower-case letters, digits and '-', at most 63)",
                value.chars().take(80).collect::<String>()
            ),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// Items whose key sorts after `after`, at most `limit` of them.
    After { limit: usize, after: Option<String> },
    /// The `page`-th run of `size` items, from 1.
    Page { page: usize, size: usize },
}

/// One page of `items` (sorted by `key`), and the token for what follows, if anything does.
pub fn page<'a, T>(
    items: &'a [T],
    key: impl Fn(&T) -> &str,
    paging: &Paging,
) -> (&'a [T], Option<String>) {
    let (start, size) = match paging {
        Paging::After { limit, after } => {
            let start = after
                .as_deref()
                .map_or(0, |after| items.partition_point(|item| key(item) <= after));
            (start, *limit)
        }
        Paging::Page { page, size } => ((page - 1).saturating_mul(*size), *size),
    };
    let start = start.min(items.len());
    let end = start.saturating_add(size).min(items.len());
    let slice = &items[start..end];
    let next = (end < items.len())
        .then(|| slice.last().map(|last| encode_token(key(last))))
        .flatten();
    (slice, next)
}

/// The key of the last item served, hex-encoded so clients treat it as opaque.
fn encode_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Option<String> {
    if token.is_empty() || !token.len().is_multiple_of(2) || token.len() > 512 {
        return None;
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str, known: &[&str]) -> Result<Params, ApiError> {
        let uri: axum::http::Uri = format!("/x?{query}").parse().unwrap();
        Params::parse(Query::try_from_uri(&uri), known)
    }

    const KNOWN: &[&str] = &["namespace", "limit", "continue", "page", "pageSize"];

    #[test]
    fn unknown_and_repeated_parameters_are_named_in_the_error() {
        let e = params("nmespace=a", KNOWN).unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("nmespace"));
        let e = params("namespace=a&namespace=b", KNOWN).unwrap_err();
        assert!(e.error.contains("more than once"), "{}", e.error);
    }

    #[test]
    fn names_must_be_dns_labels() {
        let p = params("namespace=Prod_1", KNOWN).unwrap();
        assert_eq!(p.label("namespace").unwrap_err().code, "BAD_REQUEST");
        let p = params("namespace=prod-1", KNOWN).unwrap();
        assert_eq!(p.label("namespace").unwrap().as_deref(), Some("prod-1"));
    }

    #[test]
    fn limits_out_of_range_or_not_numbers_are_rejected() {
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=-3",
            "limit=ten",
            "pageSize=0",
            "page=0",
        ] {
            let p = params(bad, KNOWN).unwrap();
            assert!(p.paging().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn paging_styles_do_not_mix() {
        let p = params("limit=5&page=2", KNOWN).unwrap();
        assert!(p.paging().unwrap_err().error.contains("not both"));
    }

    #[test]
    fn a_forged_continue_token_is_a_bad_request() {
        for bad in ["zz", "abc", "ff"] {
            let p = params(&format!("continue={bad}"), KNOWN).unwrap();
            assert!(p.paging().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn continue_tokens_walk_the_whole_list_once() {
        let items: Vec<String> = (0..7).map(|i| format!("ns/svc-{i}")).collect();
        let mut seen = vec![];
        let mut after = None;
        loop {
            let paging = Paging::After { limit: 3, after };
            let (slice, next) = page(&items, |s| s, &paging);
            seen.extend(slice.iter().cloned());
            match next {
                Some(token) => after = Some(decode_token(&token).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn a_continue_token_survives_the_item_it_names_being_deleted() {
        let items = vec!["a/1".to_string(), "a/3".to_string()];
        let paging = Paging::After {
            limit: 10,
            after: Some("a/2".into()),
        };
        assert_eq!(page(&items, |s| s, &paging).0, ["a/3"]);
    }

    #[test]
    fn numbered_pages_past_the_end_are_empty() {
        let items: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let (slice, next) = page(&items, |s| s, &Paging::Page { page: 2, size: 2 });
        assert_eq!(slice, ["2", "3"]);
        assert!(next.is_some());
        let (slice, next) = page(&items, |s| s, &Paging::Page { page: 9, size: 2 });
        assert!(slice.is_empty() && next.is_none());
    }
}
