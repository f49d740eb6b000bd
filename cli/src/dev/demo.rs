//! The demo app and the admin dashboard: the static build of `clients/js/demo` (committed in
//! `clients/js/demo/dist`, rebuilt with `npm run demo --prefix clients/js`), built into the
//! binary. `/` and `/success` (where Checkout returns) are the demo app, `/admin` the dashboard.

use super::Page;
use super::pages::plain;

macro_rules! asset {
    ($name:literal, $kind:literal) => {
        ($name, $kind, include_bytes!(concat!("../../../clients/js/demo/dist/", $name)).as_slice())
    };
}

/// Every file of the build: (path under `dist`, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("admin.html", "text/html; charset=utf-8"),
    asset!("assets/app.js", "text/javascript; charset=utf-8"),
    asset!("assets/admin.js", "text/javascript; charset=utf-8"),
    asset!("assets/demo.css", "text/css; charset=utf-8"),
];

/// A file of the build by its path under `dist`; 404 for any other.
pub fn file(path: &str) -> Page {
    match FILES.iter().find(|(name, _, _)| *name == path) {
        Some((_, kind, bytes)) => hyper::Response::builder()
            .status(200)
            .header("content-type", *kind)
            .header("cache-control", "no-cache")
            .body(http_body_util::Full::new(hyper::body::Bytes::from_static(bytes)))
            .expect("a valid response"),
        None => plain(404, "text/plain", "no such file".into()),
    }
}
