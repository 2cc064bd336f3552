//! The visit page: a self-contained HTML document (inline CSS, no external fetches, phone
//! viewport) and its JSON form. Everything interpolated into HTML is escaped.

use std::fmt::{self, Write as _};

use chrono::{DateTime, NaiveDateTime, Offset, SecondsFormat};
use chrono_tz::{OffsetName, Tz, TzOffset};
use serde::Serialize;

use crate::cluster::PageCluster;

/// What one page shows.
#[derive(Debug, Clone)]
pub struct PageView<'a> {
    pub greeting: &'a str,
    pub pod: &'a str,
    pub visits: u64,
    pub now: DateTime<Tz>,
    /// The cluster total, when peers are configured.
    pub cluster: Option<PageCluster>,
}

/// The JSON form of the page (`Accept: application/json`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PageJson {
    pub visits: u64,
    pub pod: String,
    pub time: String,
    pub timezone: String,
    pub utc_offset: String,
    /// Present when peers are configured: `{"total":N,"complete":bool,"counted":N,"listed":N}`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cluster: Option<PageCluster>,
}

/// `+03:00` style offset of a zoned time.
pub fn utc_offset(now: &DateTime<Tz>) -> String {
    now.offset().fix().to_string()
}

impl PageView<'_> {
    pub fn json(&self) -> PageJson {
        PageJson {
            visits: self.visits,
            pod: self.pod.to_owned(),
            time: self.now.to_rfc3339_opts(SecondsFormat::Secs, false),
            timezone: self.now.timezone().name().to_owned(),
            utc_offset: utc_offset(&self.now),
            cluster: self.cluster,
        }
    }

    /// The page. Written into one buffer: no piece is formatted into a string of its own,
    /// since this runs once per visit.
    pub fn html(&self) -> String {
        let zone = self.now.timezone().name();
        let local = self.now.naive_local();
        let mut html = String::with_capacity(PAGE_CAPACITY);
        let _ = write!(
            html,
            r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  :root {{ color-scheme: light dark; --accent: #2f6fde; }}
  * {{ box-sizing: border-box; }}
  body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
         font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
         background: #f3f5f9; color: #1b1f24; padding: 1rem; }}
  main {{ width: 100%; max-width: 32rem; background: #fff; border-radius: 1rem; padding: 1.5rem;
         box-shadow: 0 0.25rem 1.5rem rgba(0, 0, 0, 0.08); }}
  h1 {{ font-size: 1.5rem; margin: 0 0 1rem; overflow-wrap: anywhere; }}
  .clock {{ font-size: 2.5rem; font-weight: 700; font-variant-numeric: tabular-nums; color: var(--accent); }}
  .date {{ font-size: 1.1rem; margin-top: 0.25rem; }}
  .zone {{ color: #5b6470; margin-top: 0.25rem; }}
  dl {{ display: grid; grid-template-columns: auto 1fr; gap: 0.5rem 1rem; margin: 1.5rem 0 0; }}
  dt {{ color: #5b6470; }}
  dd {{ margin: 0; font-weight: 600; overflow-wrap: anywhere; }}
  .partial {{ font-weight: 400; color: #b45309; }}
  @media (prefers-color-scheme: dark) {{
    body {{ background: #14171c; color: #e8eaed; }}
    main {{ background: #1f242b; box-shadow: none; }}
    dt, .zone {{ color: #9aa3ad; }}
    .partial {{ color: #f0a35e; }}
    :root {{ --accent: #7aa7ff; }}
  }}
</style>
</head>
<body>
<main>
  <h1 id="greeting">{greeting}</h1>
  <section aria-label="Current time in {zone}">
    <div class="clock" id="time"><time datetime="{iso}">{time}</time></div>
    <div class="date" id="date">{date}</div>
    <div class="zone" id="zone">{zone} ({zone_detail})</div>
  </section>
  <dl>
    <dt>Served by</dt><dd id="pod">{pod}</dd>
    <dt>Visits</dt><dd id="visits">{visits}</dd>{cluster}
  </dl>
</main>
</body>
</html>
"#,
            title = Escaped(self.greeting),
            greeting = Escaped(self.greeting),
            zone = Escaped(zone),
            iso = Escaped(&self.now.to_rfc3339_opts(SecondsFormat::Secs, false)),
            time = WallClock(local, "%H:%M:%S"),
            date = WallClock(local, "%A, %-d %B %Y"),
            zone_detail = ZoneDetail(self.now.offset()),
            pod = Escaped(self.pod),
            visits = self.visits,
            cluster = ClusterRow(self.cluster),
        );
        html
    }
}

/// Room for the page with a usual greeting and pod name, so it is written without growing.
const PAGE_CAPACITY: usize = 2560;

/// The wall-clock time formatted by chrono straight into the page. Formatting the zoned time
/// would render the zone's name into a new string on every call, and chrono's `Display` of a
/// format formats into a string of its own first; `write_to` does neither.
struct WallClock(NaiveDateTime, &'static str);

impl fmt::Display for WallClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.format(self.1).write_to(f)
    }
}

/// "MSK, UTC+03:00"; just "UTC+04:00" for a zone that tzdata gives no abbreviation but its
/// offset ("+04"), which would add nothing. chrono-tz reports some of those as no abbreviation
/// and others as the offset.
struct ZoneDetail<'a>(&'a TzOffset);

impl fmt::Display for ZoneDetail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = self.0.fix();
        match self.0.abbreviation() {
            Some(name) if !name.starts_with(['+', '-']) => {
                write!(f, "{}, UTC{offset}", Escaped(name))
            }
            _ => write!(f, "UTC{offset}"),
        }
    }
}

/// The cluster total row, when peers are configured; marked partial when some replicas could
/// not be counted.
struct ClusterRow(Option<PageCluster>);

impl fmt::Display for ClusterRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => Ok(()),
            Some(cluster) if cluster.complete => write!(
                f,
                "\n    <dt>All replicas</dt><dd id=\"cluster-total\" data-complete=\"true\">{}</dd>",
                cluster.total
            ),
            Some(cluster) => write!(
                f,
                "\n    <dt>All replicas</dt><dd id=\"cluster-total\" data-complete=\"false\">{} \
                 <span class=\"partial\">(partial: {} of {} replicas answered)</span></dd>",
                cluster.total, cluster.counted, cluster.listed
            ),
        }
    }
}

/// Text escaped for HTML element content and double-quoted attribute values, written where it
/// is formatted.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn view(greeting: &str) -> PageView<'_> {
        let now = chrono_tz::Europe::Moscow
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("valid time");
        PageView {
            greeting,
            pod: "app-rust-0",
            visits: 42,
            now,
            cluster: None,
        }
    }

    #[test]
    fn escapes_interpolated_text() {
        let html = view("<script>alert('x')</script> & \"q\"").html();
        assert!(!html.contains("<script>"));
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
        );
    }

    #[test]
    fn shows_time_zone_offset_pod_and_count() {
        let html = view("Hi").html();
        for needle in [
            "03:04:05",
            "Friday, 2 January 2026",
            "Europe/Moscow (MSK, UTC+03:00)",
            "app-rust-0",
            ">42<",
            "width=device-width",
        ] {
            assert!(html.contains(needle), "missing {needle} in {html}");
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external fetches"
        );
    }

    #[test]
    fn names_the_zone_by_its_abbreviation_only_when_it_has_one() {
        let at = |zone: Tz, month| {
            let now = zone
                .with_ymd_and_hms(2026, month, 14, 12, 0, 0)
                .single()
                .expect("valid time");
            PageView { now, ..view("Hi") }.html()
        };
        // tzdata gives these zones no abbreviation, only their offset ("+04", "+02"); chrono-tz
        // reports Dubai's as none and Troll's as "+02".
        let dubai = at(chrono_tz::Asia::Dubai, 7);
        assert!(dubai.contains("Asia/Dubai (UTC+04:00)"), "{dubai}");
        let troll = at(chrono_tz::Antarctica::Troll, 7);
        assert!(troll.contains("Antarctica/Troll (UTC+02:00)"), "{troll}");
        let new_york = at(chrono_tz::America::New_York, 7);
        assert!(
            new_york.contains("America/New_York (EDT, UTC-04:00)"),
            "{new_york}"
        );
        let new_york = at(chrono_tz::America::New_York, 1);
        assert!(
            new_york.contains("America/New_York (EST, UTC-05:00)"),
            "{new_york}"
        );
        assert!(new_york.contains(r#"<time datetime="2026-01-14T12:00:00-05:00">12:00:00</time>"#));
    }

    #[test]
    fn shows_the_cluster_total_only_with_peers_and_marks_it_partial() {
        assert!(!view("Hi").html().contains("cluster-total"));
        assert_eq!(view("Hi").json().cluster, None);
        let mut complete = view("Hi");
        complete.cluster = Some(PageCluster {
            total: 15,
            complete: true,
            counted: 3,
            listed: 3,
        });
        let html = complete.html();
        assert!(
            html.contains(r#"<dd id="cluster-total" data-complete="true">15</dd>"#),
            "{html}"
        );
        assert!(!html.contains("partial:"), "{html}");
        let mut partial = view("Hi");
        partial.cluster = Some(PageCluster {
            total: 8,
            complete: false,
            counted: 2,
            listed: 3,
        });
        let html = partial.html();
        assert!(html.contains(r#"data-complete="false">8 <span class="partial">(partial: 2 of 3 replicas answered)</span>"#), "{html}");
        let json = serde_json::to_value(partial.json()).expect("json");
        assert_eq!(
            json["cluster"],
            serde_json::json!({"total": 8, "complete": false, "counted": 2, "listed": 3})
        );
    }

    #[test]
    fn json_has_rfc3339_time_and_offset() {
        let json = view("Hi").json();
        assert_eq!(json.time, "2026-01-02T03:04:05+03:00");
        assert_eq!(json.utc_offset, "+03:00");
        assert_eq!(json.timezone, "Europe/Moscow");
    }
}
