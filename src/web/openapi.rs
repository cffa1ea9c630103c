//! `GET /openapi.json`: the OpenAPI 3.1 description of the read API, kept as a JSON asset next to
//! the code it describes. Its schemas are JSON Schema 2020-12, so tests validate live responses
//! against it directly.

use axum::http::header;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("assets/openapi.json");

pub async fn handler() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        DOCUMENT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_exactly_the_served_paths_and_the_routes_view() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut documented: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort();
        let mut served: Vec<&str> = crate::web::API_PATHS.to_vec();
        served.push(crate::web::ROUTES_VIEW);
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        fn walk(v: &serde_json::Value, doc: &serde_json::Value) {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                        let pointer = r.trim_start_matches('#');
                        assert!(doc.pointer(pointer).is_some(), "dangling {r}");
                    }
                    map.values().for_each(|x| walk(x, doc));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|x| walk(x, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
