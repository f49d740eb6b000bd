//! The least a `lambda_http` function can be: the yardstick `scripts/coldstart.py` measures every
//! function's cold start against (same runtime crates, same release profile).

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        Response::builder().status(200).body(Body::from("hello")).map_err(Error::from)
    }))
    .await
}
