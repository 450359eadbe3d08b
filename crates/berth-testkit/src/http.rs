//! A static file server on loopback for tests (a local apt repository, an image server): GET
//! and HEAD of files below one directory, nothing else; it stops when dropped.

use std::path::{Component, Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct StaticServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl StaticServer {
    /// Serves `root` on a free loopback port.
    pub async fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let root = root.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, root.clone()));
            }
        });
        Self { url, task }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: tokio::net::TcpStream, root: PathBuf) {
    loop {
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) if request.len() < 16 * 1024 => request.push(byte[0]),
                _ => return,
            }
        }
        let text = String::from_utf8_lossy(&request);
        let mut words = text.split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let path = target
            .split('?')
            .next()
            .unwrap_or("")
            .trim_start_matches('/');
        let file = Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
            .then(|| root.join(path))
            .filter(|p| p.is_file());
        let head = method == "HEAD";
        let answer = match (method, file) {
            ("GET" | "HEAD", Some(file)) => {
                let body = std::fs::read(&file).unwrap_or_default();
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                if !head {
                    out.extend_from_slice(&body);
                }
                out
            }
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        if stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}
