//! One service's page: `GET /services/{namespace}/{service}` (the page itself, static like the
//! dashboard), and what it reads besides the rollout history: the service's recent probes
//! (`.../health`, JSON) and its pictures (`.../charts/{chart}`, SVG drawn by `charts`). A service
//! the caller may not see is answered as one that does not exist, and the dependency picture
//! holds only services the caller may see.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::charts::{graph, graph_svg, latency, timeline};
use super::fleet::{Fleet, ServiceRow};
use super::problem::ApiError;
use super::{Visible, WebState, json, query};
use crate::probe::history::{SAMPLES, Sample};

/// The pictures a service page shows, by the name in the chart path.
pub const CHARTS: &[&str] = &["timeline.svg", "latency.svg", "graph.svg"];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthHistory<'a> {
    pub namespace: &'a str,
    pub service: &'a str,
    /// Probes kept at most; older ones are dropped.
    pub capacity: usize,
    /// Oldest first.
    pub samples: Vec<Sample>,
}

/// The service the path names, if the caller may see it.
fn find<'a>(
    fleet: &'a Fleet,
    visible: &Visible,
    namespace: &str,
    service: &str,
) -> Result<&'a ServiceRow, ApiError> {
    query::check_label("namespace", namespace)?;
    query::check_label("service", service)?;
    Some(fleet)
        .filter(|_| visible.allows(namespace))
        .and_then(|fleet| fleet.service(namespace, service))
        .ok_or_else(|| ApiError::not_found(format!("no ChittyService {namespace}/{service}")))
}

pub async fn health(
    State(state): State<Arc<WebState>>,
    Extension(visible): Extension<Visible>,
    Path((namespace, service)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let fleet = state.fleet.snapshot().await?;
    let row = find(&fleet, &visible, &namespace, &service)?;
    Ok(json(&HealthHistory {
        namespace: row.namespace(),
        service: row.name(),
        capacity: SAMPLES,
        samples: state.probe_history.samples(row.namespace(), row.name()),
    }))
}

pub async fn chart(
    State(state): State<Arc<WebState>>,
    Extension(visible): Extension<Visible>,
    Path((namespace, service, chart)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    if !CHARTS.contains(&chart.as_str()) {
        return Err(ApiError::not_found(format!(
            "no chart {:?}; there are {}",
            super::charts::clip(&chart, 40),
            CHARTS.join(", ")
        )));
    }
    let fleet = state.fleet.snapshot().await?;
    let row = find(&fleet, &visible, &namespace, &service)?;
    let svg = match chart.as_str() {
        "timeline.svg" => {
            let rows: Vec<timeline::RolloutRow> = fleet
                .rollouts_of(row.namespace(), row.name())
                .iter()
                .take(timeline::ROWS)
                .map(timeline::RolloutRow::of)
                .collect();
            timeline::render(&rows, jiff::Timestamp::now())
        }
        "latency.svg" => latency::render(&state.probe_history.samples(row.namespace(), row.name())),
        _ => {
            let services = graph::visible_services(&fleet, &visible);
            let picture = graph::around(&row.key, &services, |ns| visible.allows(ns));
            graph_svg::render(&picture, row.namespace())
        }
    };
    Ok(svg_response(svg))
}

fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Opened on its own, the picture may not run or load anything.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        svg,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::fleet::tests::service;

    #[test]
    fn a_service_in_a_namespace_the_caller_cannot_see_does_not_exist() {
        let fleet = Fleet::build(&[Arc::new(service("team-b", "db"))], &[]);
        let team_a = Visible::Only(Arc::new(["team-a".to_string()].into()));
        let err = find(&fleet, &team_a, "team-b", "db").err().unwrap();
        assert_eq!(err.status, axum::http::StatusCode::NOT_FOUND);
        assert!(find(&fleet, &Visible::All, "team-b", "db").is_ok());
        let bad = find(&fleet, &Visible::All, "Team", "db").err().unwrap();
        assert_eq!(bad.status, axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_graph_of_a_visible_service_leaves_out_what_the_caller_cannot_see() {
        let mut app = service("team-a", "app");
        let mut db = service("team-b", "db");
        app.spec.depends_on = vec![crate::api::ServiceRef {
            name: "db".into(),
            namespace: Some("team-b".into()),
        }];
        db.spec.depends_on = vec![crate::api::ServiceRef {
            name: "app".into(),
            namespace: Some("team-a".into()),
        }];
        let fleet = Fleet::build(&[Arc::new(app), Arc::new(db)], &[]);
        let team_a = Visible::Only(Arc::new(["team-a".to_string()].into()));
        let services = graph::visible_services(&fleet, &team_a);
        let picture = graph::around("team-a/app", &services, |ns| team_a.allows(ns));
        let svg = graph_svg::render(&picture, "team-a");
        assert!(!svg.contains("team-b"), "{svg}");
        assert!(svg.contains("1 dependency in namespaces you cannot see"));
        let everyone = graph::visible_services(&fleet, &Visible::All);
        let picture = graph::around("team-a/app", &everyone, |_| true);
        assert!(
            picture.edges.iter().all(|e| e.cycle),
            "seen whole, it is a cycle"
        );
    }
}
