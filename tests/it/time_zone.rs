//! The time on the page is the current time in Moscow, checked against sources independent of
//! the app's bundled tz database: the fact that Moscow has been on UTC+3 all year since
//! 26 October 2014, and the system's tz database through `date` when it is installed.

use crate::common;

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Timelike, Utc};
use common::{TestApp, client, get_json, temp_dir};

const MOSCOW_OFFSET_SECONDS: i32 = 3 * 3600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_current_time_in_moscow() {
    let dir = temp_dir();
    let app = TestApp::spawn(dir.path()).await;
    let client = client();

    let page: serde_json::Value = get_json(&client, &app.url("/")).await;
    let now = Utc::now();
    assert_eq!(page["timezone"], "Europe/Moscow");
    assert_eq!(page["utcOffset"], "+03:00");
    let shown: DateTime<FixedOffset> = page["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(shown.offset().local_minus_utc(), MOSCOW_OFFSET_SECONDS);
    let skew = (shown.with_timezone(&Utc) - now).num_seconds().abs();
    assert!(
        skew <= 5,
        "JSON time {shown} is {skew}s away from now ({now})"
    );

    let html = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let now = Utc::now();
    let clock = between(&html, "<time datetime=\"")
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no clock in the page: {html}"));
    let shown = NaiveTime::parse_from_str(clock, "%H:%M:%S").expect("HH:MM:SS");
    let expected = (now + Duration::seconds(MOSCOW_OFFSET_SECONDS.into())).time();
    let diff = (i64::from(shown.num_seconds_from_midnight())
        - i64::from(expected.num_seconds_from_midnight()))
    .rem_euclid(86_400);
    assert!(
        diff <= 5 || diff >= 86_400 - 5,
        "the page shows {shown}, Moscow time is {expected}"
    );
    assert!(html.contains("Europe/Moscow (MSK, UTC+03:00)"), "{html}");
    app.stop().await;
}

#[test]
fn the_bundled_offsets_agree_with_the_system_tz_database() {
    // A second, independent tz database: the system's (Debian's tzdata, priority "required"),
    // through `date`. Without it `date` would silently print UTC, so its absence is an error.
    assert!(
        Path::new("/usr/share/zoneinfo/Europe/Moscow").exists(),
        "the system tz database is missing: install Debian's tzdata (apt-get install tzdata)"
    );
    // Now, plus instants on both sides of Moscow's 2011 and 2014 changes.
    let instants = [
        Utc::now().timestamp(),
        1_262_304_000, // 2010-01-01: MSK, UTC+3
        1_277_942_400, // 2010-07-01: MSD, UTC+4
        1_341_100_800, // 2012-07-01: permanent UTC+4
        1_420_070_400, // 2015-01-01: UTC+3 since 2014-10-26
    ];
    for instant in instants {
        let output = Command::new("date")
            .args(["-d", &format!("@{instant}"), "+%:z"])
            .env("TZ", "Europe/Moscow")
            .output()
            .expect("date runs");
        let system = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let bundled = DateTime::from_timestamp(instant, 0)
            .expect("a valid instant")
            .with_timezone(&chrono_tz::Europe::Moscow);
        assert_eq!(
            app_rust::page::utc_offset(&bundled),
            system,
            "offset of Europe/Moscow at {instant}"
        );
    }
}

fn between<'a>(text: &'a str, start: &str) -> Option<&'a str> {
    text.find(start).map(|i| &text[i + start.len()..])
}
