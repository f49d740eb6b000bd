//! The demo app and the admin dashboard in a real browser: Playwright (npm, in clients/js)
//! driving Debian's chromium (`make test` installs it; no browser download) through the whole
//! journey against a `tollgate dev` child (clients/js/e2e). A failing step keeps its screenshot
//! in clients/js/test-results/. Also: the demo's committed build is what its sources build.

mod dev_server;

use std::path::{Path, PathBuf};
use std::process::Command;

use dev_server::{output_text as report, root};

const ADMIN: &str = "admin@example.com";

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(path.exists(), "{} is missing: `make test` installs Debian's chromium (make browser)", path.display());
    path
}

#[tokio::test]
async fn the_whole_journey_passes_in_chromium() {
    let server = dev_server::start(&[("ADMIN_EMAILS", ADMIN)]).await;
    let clients = root().join("clients/js");
    let out = Command::new("npx")
        .args(["playwright", "test"])
        .current_dir(&clients)
        .env("TOLLGATE_URL", &server.url)
        .env("ADMIN_EMAIL", ADMIN)
        .env("CHROMIUM", chromium())
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .unwrap();
    let text = report(&out);
    assert!(
        out.status.success(),
        "the browser tests failed (screenshots in {}):\n{text}",
        clients.join("test-results").display()
    );
    assert!(text.contains("4 passed"), "all four browser tests ran:\n{text}");
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(files(&path).into_iter().map(|(p, b)| (Path::new(path.file_name().unwrap()).join(p), b)));
        } else {
            all.push((PathBuf::from(path.file_name().unwrap()), std::fs::read(&path).unwrap()));
        }
    }
    all.sort();
    all
}

#[test]
fn the_committed_demo_build_is_fresh() {
    let checked =
        Command::new("npx").args(["tsc", "-p", "demo"]).current_dir(root().join("clients/js")).output().unwrap();
    assert!(checked.status.success(), "the demo's sources do not type-check:\n{}", report(&checked));
    let fresh = std::env::temp_dir().join(format!("tollgate-demo-{}", std::process::id()));
    let out =
        Command::new("node").arg("demo/build.mjs").arg(&fresh).current_dir(root().join("clients/js")).output().unwrap();
    assert!(out.status.success(), "the demo build failed:\n{}", report(&out));
    let built = files(&fresh);
    std::fs::remove_dir_all(&fresh).ok();
    let committed = files(&root().join("clients/js/demo/dist"));
    let names = |all: &[(PathBuf, Vec<u8>)]| all.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&built), names(&committed), "the demo's files");
    assert!(built == committed, "clients/js/demo/dist is stale: run `npm run demo --prefix clients/js`");
}
