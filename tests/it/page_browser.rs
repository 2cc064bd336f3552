//! The page in a real browser: Debian's chromium, headless, renders the visible text (greeting,
//! time in Moscow, pod, count) and a non-blank screenshot of a phone-sized viewport.
//! chromium is installed by scripts/install-tools.sh (scripts/tools/install-chromium.sh).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{TestApp, temp_dir, visits};

const PHONE_WIDTH: u32 = 390;
const PHONE_HEIGHT: u32 = 844;

fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed, so the page cannot be checked in a browser: \
                 run scripts/install-tools.sh (it installs Debian's chromium)"
            )
        })
}

/// Runs headless chromium with `args` plus the page URL; fails the test after 120 s.
fn run_chromium(profile: &Path, args: &[String], url: &str) -> Output {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.join("profile").display()
        ))
        .args(args)
        .arg(url)
        .env("HOME", profile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("chromium output");
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let output = child.wait_with_output().expect("chromium output");
            panic!(
                "chromium did not finish within 120 s: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The text between the element with `id` and its closing tag.
fn element_text<'a>(dom: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no element #{id} in the rendered DOM:\n{dom}"));
    let rest = &dom[start..];
    let open_end = rest.find('>').expect("a complete tag") + 1;
    let rest = &rest[open_end..];
    let close = rest.find("</").expect("a closing tag");
    &rest[..close]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_page_with_time_pod_and_count() {
    let dir = temp_dir();
    let app = TestApp::spawn_with(dir.path(), |config| {
        config.pod_name = common::pod_name("app-rust-browser-0");
    })
    .await;
    let browser_home = temp_dir();
    let url = app.url("/");

    let (home, page_url) = (browser_home.path().to_owned(), url.clone());
    let output = tokio::task::spawn_blocking(move || {
        run_chromium(&home, &["--dump-dom".to_owned()], &page_url)
    })
    .await
    .expect("join");
    assert!(
        output.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(element_text(&dom, "greeting"), "Hello from app-rust");
    assert_eq!(element_text(&dom, "pod"), "app-rust-browser-0");
    assert_eq!(
        element_text(&dom, "visits"),
        "1",
        "the browser's load counted one visit"
    );
    assert_eq!(element_text(&dom, "zone"), "Europe/Moscow (MSK, UTC+03:00)");
    let clock = element_text(&dom, "time")
        .rsplit('>')
        .next()
        .expect("the clock text");
    chrono::NaiveTime::parse_from_str(clock, "%H:%M:%S")
        .unwrap_or_else(|e| panic!("the clock shows {clock:?}: {e}"));
    let date = element_text(&dom, "date");
    chrono::NaiveDate::parse_from_str(date, "%A, %-d %B %Y")
        .unwrap_or_else(|e| panic!("the date shows {date:?}: {e}"));
    assert!(!dom.contains("<script"), "the page needs no script");

    let screenshot = browser_home.path().join("page.png");
    let (home, page_url, shot) = (
        browser_home.path().to_owned(),
        url.clone(),
        screenshot.clone(),
    );
    let output = tokio::task::spawn_blocking(move || {
        run_chromium(
            &home,
            &[
                format!("--screenshot={}", shot.display()),
                format!("--window-size={PHONE_WIDTH},{PHONE_HEIGHT}"),
            ],
            &page_url,
        )
    })
    .await
    .expect("join");
    assert!(
        output.status.success() && screenshot.is_file(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    check_screenshot(&screenshot);

    let client = common::client();
    assert_eq!(
        visits(&client, &app).await,
        2,
        "each page load counted exactly one visit"
    );
    app.stop().await;
}

/// The screenshot has the phone viewport's size and shows a rendered card, not a blank page:
/// the page background, the white card, dark text and the blue clock are all there.
fn check_screenshot(path: &Path) {
    let file = std::fs::File::open(path).expect("open screenshot");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a buffer size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!(
        (info.width, info.height),
        (PHONE_WIDTH, PHONE_HEIGHT),
        "the screenshot is the phone viewport"
    );
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "a color screenshot, got {:?}",
        info.color_type
    );
    let rgb: Vec<[u8; 3]> = pixels[..info.line_size * info.height as usize]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let total = rgb.len();
    let count = |predicate: &dyn Fn(&[u8; 3]) -> bool| rgb.iter().filter(|p| predicate(p)).count();

    let background = count(&|p| *p == [0xf3, 0xf5, 0xf9]);
    let card = count(&|p| *p == [0xff, 0xff, 0xff]);
    let dark_text = count(&|p| p.iter().all(|&c| c < 0x60));
    let blue_clock = count(&|p| p[2] > 0xa0 && i32::from(p[2]) - i32::from(p[0]) > 0x60);
    let percent = |n: usize| n * 100 / total;
    assert!(
        percent(background) >= 5,
        "page background covers {}%",
        percent(background)
    );
    assert!(
        percent(card) >= 10,
        "the white card covers {}%",
        percent(card)
    );
    assert!(dark_text >= 200, "only {dark_text} dark text pixels");
    assert!(
        blue_clock >= 200,
        "only {blue_clock} pixels of the blue clock"
    );
}
