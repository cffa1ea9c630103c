//! Just enough of the W3C WebDriver protocol to drive Debian's headless Chromium through
//! chromedriver: open a page, find elements, read their rendered text, click, run a script and
//! take a screenshot. Plain JSON over HTTP with the crate's own reqwest.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key W3C WebDriver puts an element reference under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session with a
    /// fresh profile and a laptop-sized window.
    pub async fn launch() -> Self {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} starts ({e}); scripts/test.sh installs it"));
        chitty_operator::tls::install_default_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(r) = ready
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1440,1500".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            }}}))
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a browser session: {created}"))
            .to_string();
        Self {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = request.send().await.unwrap().json().await.unwrap();
        if std::env::var_os("WEBDRIVER_DEBUG").is_some() {
            eprintln!("webdriver {path}: {reply}");
        }
        reply["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        let v = self
            .call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
        assert!(v.is_null(), "navigating to {url}: {v}");
    }

    /// Runs a synchronous script in the page and returns its result.
    pub async fn run(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The first element matching a CSS selector, if there is one now.
    pub async fn find(&self, css: &str) -> Option<Element<'_>> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().map(|id| Element {
            browser: self,
            id: id.to_string(),
        })
    }

    /// The rendered text of the first element matching `css`, as a person sees it.
    pub async fn text(&self, css: &str) -> Option<String> {
        self.find(css).await?.text().await
    }

    pub async fn screenshot(&self, file: &PathBuf) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = decode_base64(v.as_str().expect("a screenshot"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, png).unwrap();
    }

    pub async fn quit(mut self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Element<'_> {
    pub async fn text(&self) -> Option<String> {
        let v = self
            .browser
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/text", self.id),
                None,
            )
            .await;
        v.as_str().map(str::to_string)
    }

    pub async fn click(&self) {
        let v = self
            .browser
            .call(
                reqwest::Method::POST,
                &format!("/element/{}/click", self.id),
                Some(json!({})),
            )
            .await;
        assert!(v.is_null(), "click: {v}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    sextets
        .chunks(4)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, s)| acc | (u32::from(*s) << (18 - 6 * i)));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes[..c.len().saturating_sub(1)].to_vec()
        })
        .collect()
}
