//! `crds/` is generated from the API types and never hand-edited: fail when it drifts.

use std::path::Path;

#[test]
fn crds_directory_matches_the_api_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let mut stale = Vec::new();
    for (file, crd) in chitty_operator::crdgen::all() {
        let generated = chitty_operator::crdgen::to_yaml(&crd).unwrap();
        let on_disk = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if generated != on_disk {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "crds/ is out of date for {stale:?}; run: hack/sync-crds.sh --regen (regenerates crds/ and copies it into the chart and config/crd)"
    );
}

#[test]
fn crds_directory_holds_nothing_else() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let expected: Vec<&str> = chitty_operator::crdgen::all()
        .iter()
        .map(|(f, _)| *f)
        .collect();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            expected.contains(&name.as_str()),
            "unexpected file crds/{name}: CRDs are generated, not hand-written"
        );
    }
}
