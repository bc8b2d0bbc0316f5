//! The suite's own small web server on 127.0.0.1: it serves documents the provider must fetch
//! (request objects by reference, client JWKS, sector identifier lists) and records what the
//! provider POSTs to it (back-channel logout tokens).

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{handler, EndpointExt, Request, Response, Route};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Inner {
    docs: HashMap<String, (String, String)>,
    posts: Vec<(String, String)>,
}

/// The running fixture.
#[derive(Clone)]
pub struct Fixture {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

#[handler]
async fn serve(req: &Request, body: String, Data(inner): Data<&Arc<Mutex<Inner>>>) -> Response {
    let path = req.uri().path().to_string();
    let mut i = inner.lock().unwrap();
    if req.method() == poem::http::Method::POST {
        i.posts.push((path, body));
        return Response::builder().status(poem::http::StatusCode::OK).finish();
    }
    match i.docs.get(&path) {
        Some((ct, b)) => Response::builder().content_type(ct.as_str()).body(b.clone()),
        None => Response::builder().status(poem::http::StatusCode::NOT_FOUND).finish(),
    }
}

impl Fixture {
    pub async fn start() -> Fixture {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().cloned().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Route::new().at("/*path", serve).data(inner.clone());
        tokio::spawn(async move { poem::Server::new_with_acceptor(acceptor).run(app).await });
        Fixture {
            base: format!("http://{addr}"),
            inner,
        }
    }

    /// Serves `body` as `content_type` at `path`; returns its URL.
    pub fn put(&self, path: &str, content_type: &str, body: String) -> String {
        self.inner
            .lock()
            .unwrap()
            .docs
            .insert(path.to_string(), (content_type.to_string(), body));
        format!("{}{path}", self.base)
    }

    /// The bodies POSTed to `path` so far.
    pub fn posts(&self, path: &str) -> Vec<String> {
        let i = self.inner.lock().unwrap();
        i.posts
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }
}
