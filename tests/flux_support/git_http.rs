//! A git repository served over HTTP on loopback by git's own `git http-backend`, as a Git host
//! would serve it: a tiny HTTP/1.1 front that runs the CGI program once per request. Flux's
//! source-controller clones from it like from any smart-HTTP remote.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// The repository every commit goes to, under the served root.
const REPO: &str = "samples.git";

/// A bare repository (branch `main`) and the server in front of it; stopped on drop.
pub struct GitHttpServer {
    root: PathBuf,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GitHttpServer {
    /// An empty repository under `root`, served on a free loopback port.
    pub fn start(root: &Path) -> Self {
        git(
            root,
            &["init", "--quiet", "--bare", "--initial-branch=main", REPO],
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (served, stopped) = (root.to_path_buf(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let served = served.clone();
                std::thread::spawn(move || serve(conn, &served));
            }
        });
        Self {
            root: root.to_path_buf(),
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// The clone URL.
    pub fn url(&self) -> String {
        format!("http://{}/{REPO}", self.addr)
    }

    /// Commits `tree` (every file under it, as it is now) to `main`.
    pub fn commit(&self, tree: &Path, message: &str) {
        let repo = self.root.join(REPO);
        let (git_dir, work_tree) = (
            format!("--git-dir={}", repo.display()),
            format!("--work-tree={}", tree.display()),
        );
        git(&self.root, &[&git_dir, &work_tree, "add", "--all"]);
        git(
            &self.root,
            &[&git_dir, &work_tree, "commit", "--quiet", "-m", message],
        );
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// git with no user or system configuration, as a fixed author.
fn git(dir: &Path, args: &[&str]) {
    let out = isolated(Command::new("git"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn isolated(mut cmd: Command) -> Command {
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "chitty test")
        .env("GIT_AUTHOR_EMAIL", "test@chitty.invalid")
        .env("GIT_COMMITTER_NAME", "chitty test")
        .env("GIT_COMMITTER_EMAIL", "test@chitty.invalid");
    cmd
}

/// One request on one connection (answered with `Connection: close`). A request the front
/// cannot read is dropped: the client sees the connection close and reports it.
fn serve(conn: TcpStream, root: &Path) {
    let mut reader = BufReader::new(conn.try_clone().expect("the socket clones"));
    let Some(request) = Request::read(&mut reader) else {
        return;
    };
    let response = run_backend(&request, root, &conn);
    let mut conn = conn;
    let _ = conn.write_all(&response);
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn read(reader: &mut impl BufRead) -> Option<Self> {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target, String::new()),
        };
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':')?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut req = Self {
            method,
            path,
            query,
            headers,
            body: Vec::new(),
        };
        if req.header("transfer-encoding") == Some("chunked") {
            req.body = read_chunked(reader)?;
        } else if let Some(n) = req.header("content-length") {
            let mut body = vec![0; n.parse().ok()?];
            reader.read_exact(&mut body).ok()?;
            req.body = body;
        }
        Some(req)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2]; // the chunk and its CRLF
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Runs `git http-backend` for the request (RFC 3875 variables) and turns its CGI answer into
/// an HTTP response.
fn run_backend(req: &Request, root: &Path, conn: &TcpStream) -> Vec<u8> {
    let remote = conn.peer_addr().map(|a| a.ip().to_string());
    let mut cmd = isolated(Command::new("git"));
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", &req.path)
        .env("QUERY_STRING", &req.query)
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("REMOTE_ADDR", remote.unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (header, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("git-protocol", "GIT_PROTOCOL"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
    ] {
        if let Some(v) = req.header(header) {
            cmd.env(var, v);
        }
    }
    let Ok(mut child) = cmd.spawn() else {
        return status_only("500 Internal Server Error");
    };
    let mut stdin = child.stdin.take().unwrap();
    let body = req.body.clone();
    // Written beside the read, so a large answer cannot block a large request.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output();
    let _ = writer.join();
    match out {
        Ok(out) => cgi_to_http(&out.stdout),
        Err(_) => status_only("500 Internal Server Error"),
    }
}

fn cgi_to_http(cgi: &[u8]) -> Vec<u8> {
    let split = cgi
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            cgi.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        });
    let Some((head_end, body_start)) = split else {
        return status_only("502 Bad Gateway");
    };
    let head = String::from_utf8_lossy(&cgi[..head_end]);
    let body = &cgi[body_start..];
    let mut status = "200 OK".to_string();
    let mut out = String::new();
    for line in head.lines() {
        match line.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => out.push_str(&format!("{line}\r\n")),
            None => {}
        }
    }
    let mut response = format!(
        "HTTP/1.1 {status}\r\n{out}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

fn status_only(status: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
}
