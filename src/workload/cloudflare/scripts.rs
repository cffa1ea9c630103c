//! The shell and Node.js the Cloudflare Jobs run, as text, so that a test can run exactly what a
//! Job would (it takes the scripts from the Job object, never from here). No value from a
//! manifest is ever spliced into a script: each arrives as an environment variable.
//!
//! Every script installs the operator's pinned wrangler (`WRANGLER_VERSION`) into the tool home,
//! apart from the project's own dependencies, and runs it from there.

/// Installs the pinned wrangler and points `$wrangler` (and Node's module path) at it.
const INSTALL_WRANGLER: &str = r#"npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$HOME/.chitty-wrangler" "wrangler@$WRANGLER_VERSION"
export NODE_PATH="$HOME/.chitty-wrangler/node_modules"
wrangler="$NODE_PATH/.bin/wrangler"
"#;

/// Writes `wrangler.chitty.json` beside the project's own configuration: the same settings, but
/// with the routes replaced (top level and the environment's) by exactly `CHITTY_ROUTES`, so
/// a Worker is never bound to a route its service does not hold. Prints the file's path.
const ROUTED_CONFIG_JS: &str = r#"const fs = require("fs"), path = require("path");
const { experimental_readRawConfig } = require("wrangler");
const { rawConfig, configPath } = experimental_readRawConfig({});
if (!configPath) {
  console.error("no wrangler configuration (wrangler.toml, wrangler.json or wrangler.jsonc) in the repository");
  process.exit(2);
}
const routes = JSON.parse(process.env.CHITTY_ROUTES || "[]");
const env = process.env.CHITTY_ENVIRONMENT;
const config = JSON.parse(JSON.stringify(rawConfig));
delete config.route;
config.routes = routes;
if (config.env && config.env[env]) {
  delete config.env[env].route;
  config.env[env].routes = routes;
}
const out = path.join(path.dirname(configPath), "wrangler.chitty.json");
fs.writeFileSync(out, JSON.stringify(config, null, 2) + "\n");
process.stdout.write(out);"#;

/// Reads wrangler's output file and writes what the operator records (the Worker version and
/// name, or the Pages deployment) as the container's termination message.
const RECORD_RESULT_JS: &str = r#"const fs = require("fs");
const file = process.env.WRANGLER_OUTPUT_FILE_PATH;
const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : [];
let result = {};
for (const line of lines) {
  let entry;
  try { entry = JSON.parse(line); } catch (e) { continue; }
  if (entry.type === "deploy" && entry.version_id) {
    result = { versionId: entry.version_id, workerName: entry.worker_name };
  } else if (entry.type === "pages-deploy-detailed") {
    result = { deploymentId: entry.deployment_id, project: entry.pages_project };
  }
}
fs.writeFileSync(process.env.CHITTY_RESULT_FILE || "/dev/termination-log", JSON.stringify(result));"#;

fn node(js: &str) -> String {
    debug_assert!(
        !js.contains('\''),
        "the script is single-quoted for the shell"
    );
    format!("node -e '{js}'")
}

/// Deploys a Worker bound to exactly `CHITTY_ROUTES`. With `CHITTY_DRY_RUN_OUTDIR` set it only
/// bundles into that directory and checks the configuration (`wrangler deploy --dry-run`).
pub fn deploy_worker() -> String {
    format!(
        r#"{INSTALL_WRANGLER}config=$({config})
echo "binding exactly the held routes: $CHITTY_ROUTES"
if [ -n "${{CHITTY_DRY_RUN_OUTDIR:-}}" ]; then
  exec "$wrangler" deploy --config "$config" --env "$CHITTY_ENVIRONMENT" --dry-run --outdir "$CHITTY_DRY_RUN_OUTDIR"
fi
export WRANGLER_OUTPUT_FILE_PATH="$HOME/wrangler-output.ndjson"
"$wrangler" deploy --config "$config" --env "$CHITTY_ENVIRONMENT"
{record}
"#,
        config = node(ROUTED_CONFIG_JS),
        record = node(RECORD_RESULT_JS),
    )
}

/// Deploys the build output (`CHITTY_OUTPUT_DIR`) to a Pages project. With
/// `CHITTY_DRY_RUN_OUTDIR` set it copies what it would upload there instead.
pub fn deploy_pages() -> String {
    format!(
        r#"if [ ! -d "$CHITTY_OUTPUT_DIR" ]; then
  echo "the build left no $CHITTY_OUTPUT_DIR directory to deploy (spec.cloudflare.outputDir)" >&2
  exit 1
fi
{INSTALL_WRANGLER}if [ -n "${{CHITTY_DRY_RUN_OUTDIR:-}}" ]; then
  mkdir -p "$CHITTY_DRY_RUN_OUTDIR" && cp -R "$CHITTY_OUTPUT_DIR"/. "$CHITTY_DRY_RUN_OUTDIR"/
  echo "would deploy $CHITTY_OUTPUT_DIR to Pages project $CHITTY_PAGES_PROJECT (branch $CHITTY_ENVIRONMENT)"
  exit 0
fi
export WRANGLER_OUTPUT_FILE_PATH="$HOME/wrangler-output.ndjson"
"$wrangler" pages deploy "$CHITTY_OUTPUT_DIR" --project-name "$CHITTY_PAGES_PROJECT" --branch "$CHITTY_ENVIRONMENT" --commit-dirty=true
{record}
"#,
        record = node(RECORD_RESULT_JS),
    )
}

/// Binds the Worker to exactly `CHITTY_ROUTES` without deploying new code.
pub fn update_routes() -> String {
    format!(
        r#"{INSTALL_WRANGLER}config=$({config})
echo "binding exactly the held routes: $CHITTY_ROUTES"
if [ -n "${{CHITTY_DRY_RUN_OUTDIR:-}}" ]; then
  exec "$wrangler" triggers deploy --config "$config" --env "$CHITTY_ENVIRONMENT" --dry-run
fi
"$wrangler" triggers deploy --config "$config" --env "$CHITTY_ENVIRONMENT"
"#,
        config = node(ROUTED_CONFIG_JS),
    )
}

/// Puts a recorded Worker version back (`CHITTY_VERSION_ID` of `CHITTY_WORKER_NAME`).
pub fn roll_back_worker() -> String {
    format!(
        r#"{INSTALL_WRANGLER}"$wrangler" rollback "$CHITTY_VERSION_ID" --name "$CHITTY_WORKER_NAME" --yes --message "$CHITTY_REASON"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_uses_the_pinned_wrangler_never_npx() {
        for script in [
            deploy_worker(),
            deploy_pages(),
            update_routes(),
            roll_back_worker(),
        ] {
            assert!(
                script.contains(r#""wrangler@$WRANGLER_VERSION""#),
                "{script}"
            );
            assert!(!script.contains("npx"), "{script}");
        }
    }

    #[test]
    fn the_javascript_survives_single_quoting() {
        for js in [ROUTED_CONFIG_JS, RECORD_RESULT_JS] {
            assert!(!js.contains('\''));
        }
    }
}
