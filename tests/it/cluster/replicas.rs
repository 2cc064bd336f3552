//! Real replicas: exact totals, a stopped or killed replica, a lone replica.

use super::*;

#[tokio::test]
async fn every_replica_answers_the_exact_total_and_breakdown() {
    let set = start_set(3, &[]).await;
    let client = client();
    for (replica, times) in set.iter().zip([3, 5, 7]) {
        visit(&client, replica, times).await;
    }
    let expected_pods = vec![count(&set[0], 3), count(&set[1], 5), count(&set[2], 7)];
    for replica in &set {
        let (view, _) = cluster_view(&client, replica).await;
        assert_eq!(view.scope, "cluster");
        assert_eq!(view.pod, replica.pod, "the responder names itself");
        assert_eq!(view.total, 15);
        assert!(view.complete, "{view:?}");
        assert_eq!(view.pods, expected_pods, "asked {}", replica.pod);
        assert!(view.unreachable.is_empty(), "{view:?}");
    }
    // The plain-text form, for people with curl.
    let text =
        common::get_accepting(&client, &set[2].at("/visits?scope=cluster"), "text/plain").await;
    let expected_text = format!(
        "total 15 (complete: 3 of 3 replicas counted)\n{} 3 {}\n{} 5 {}\n{} 7 {}\n",
        set[0].pod, set[0].url, set[1].pod, set[1].url, set[2].pod, set[2].url
    );
    assert_eq!(text, expected_text);
    // Asking for the cluster view counted no visit anywhere.
    for (replica, expected) in set.iter().zip([3, 5, 7]) {
        assert_eq!(local_count(&client, replica).await, expected);
    }

    // The page counts exactly one visit (here) and shows the cluster total beside it.
    let_page_snapshot_expire().await;
    let page = page_json(&client, &set[1]).await;
    assert_eq!(page.visits, 6);
    let cluster = page.cluster.expect("peers are configured");
    assert_eq!((cluster.total, cluster.complete), (16, true));
    assert_eq!((cluster.counted, cluster.listed), (3, 3));
    let (_, html) = common::get_text(&client, &set[0].at("/")).await;
    // 3+1 here, 6 and 7 from the peers.
    assert!(html.contains(r#"<dd id="visits">4</dd>"#), "{html}");
    assert!(
        html.contains(r#"<dd id="cluster-total" data-complete="true">17</dd>"#),
        "{html}"
    );
    for (replica, expected) in set.iter().zip([4, 6, 7]) {
        assert_eq!(local_count(&client, replica).await, expected);
    }

    for replica in set {
        replica.stop().await;
    }
}

/// After one of three replicas (3, 5 and 7 visits) is gone, each survivor answers within the
/// deadline with its own and the other survivor's counts, and names the gone one.
async fn assert_survivors_see_a_partial_view(
    client: &reqwest::Client,
    survivors: &[Replica],
    gone_url: &str,
) {
    for replica in survivors {
        let (view, elapsed) = cluster_view(client, replica).await;
        assert!(elapsed < deadline_with_margin(), "took {elapsed:?}");
        assert!(!view.complete, "{view:?}");
        assert_eq!(view.total, 8);
        assert_eq!(
            view.pods,
            vec![count(&survivors[0], 3), count(&survivors[1], 5)]
        );
        assert_eq!(view.unreachable.len(), 1, "{view:?}");
        assert_eq!(view.unreachable[0].url, gone_url);
        assert!(
            view.unreachable[0].error.starts_with("connection failed"),
            "{view:?}"
        );
    }
}

#[tokio::test]
async fn a_stopped_replica_makes_the_answer_incomplete_within_the_deadline() {
    let mut set = start_set(3, &[]).await;
    let client = client();
    for (replica, times) in set.iter().zip([3, 5, 7]) {
        visit(&client, replica, times).await;
    }
    // Warm the peers' connection pools so that the stop also closes pooled connections.
    let (view, _) = cluster_view(&client, &set[0]).await;
    assert_eq!((view.total, view.complete), (15, true));

    let stopped = set.pop().expect("three replicas");
    let stopped_url = stopped.url.clone();
    stopped.stop().await;

    assert_survivors_see_a_partial_view(&client, &set, &stopped_url).await;

    // Local visits are not affected; the page marks the total as partial.
    let_page_snapshot_expire().await;
    let started = Instant::now();
    let (_, html) = common::get_text(&client, &set[0].at("/")).await;
    assert!(started.elapsed() < deadline_with_margin());
    assert!(html.contains(r#"<dd id="visits">4</dd>"#), "{html}");
    assert!(
        html.contains(r#"data-complete="false">9 <span class="partial">(partial: 2 of 3 replicas answered)</span>"#),
        "{html}"
    );
    assert_eq!(local_count(&client, &set[0]).await, 4);
    assert_eq!(local_count(&client, &set[1]).await, 5);

    for replica in set {
        replica.stop().await;
    }
}

#[tokio::test]
async fn a_killed_replica_process_makes_the_answer_incomplete_within_the_deadline() {
    // Two replicas in-process and the third as the real binary, so that it can be SIGKILLed:
    // no graceful close, the kernel drops its sockets. Its port is picked by binding port 0
    // and releasing it just before the binary binds it (the only port not held throughout).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port();
    let killed_url = format!("http://127.0.0.1:{port}");
    let set = start_set(2, std::slice::from_ref(&killed_url)).await;
    let peers = format!("{},{},{killed_url}", set[0].url, set[1].url);
    let data = tempfile::tempdir().expect("a temp dir");
    let listen = format!("127.0.0.1:{port}");
    let mut child = BinApp::spawn(
        data.path(),
        &[
            "--listen",
            &listen,
            "--pod-name",
            "app-rust-2",
            "--peers",
            &peers,
        ],
        &[],
    );
    let client = client();
    let killed = Replica {
        pod: "app-rust-2".into(),
        url: killed_url.clone(),
        _data: data,
        serving: None,
    };
    visit(&client, &set[0], 3).await;
    visit(&client, &set[1], 5).await;
    visit(&client, &killed, 7).await;
    let everyone = vec![count(&set[0], 3), count(&set[1], 5), count(&killed, 7)];
    for replica in [&set[0], &set[1], &killed] {
        let (view, _) = cluster_view(&client, replica).await;
        assert_eq!((view.total, view.complete), (15, true), "{view:?}");
        assert_eq!(view.pods, everyone);
    }

    child.child.kill().expect("SIGKILL the binary");
    child.child.wait().expect("reap the binary");
    assert_survivors_see_a_partial_view(&client, &set, &killed_url).await;
    visit(&client, &set[1], 1).await;
    assert_eq!(local_count(&client, &set[1]).await, 6);
    for replica in set {
        replica.stop().await;
    }
}

#[tokio::test]
async fn a_lone_replica_answers_for_itself() {
    let data = tempfile::tempdir().expect("a temp dir");
    let mut config = Config::for_data_dir(data.path());
    config.pod_name = common::pod_name("solo-0");
    let application = Application::build(config).await.expect("starts");
    let url = format!("http://127.0.0.1:{}", application.port());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = rx.await;
    }));
    let client = client();
    let page = page_json_at(&client, &format!("{url}/")).await;
    assert_eq!(page.cluster, None, "no cluster total without peers");
    let view: ClusterView = client
        .get(format!("{url}/visits?scope=cluster"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!((view.total, view.complete), (1, true));
    assert_eq!(
        view.pods,
        vec![PodCount {
            pod: "solo-0".into(),
            visits: 1,
            url: None
        }]
    );
    let _ = tx.send(());
    server.await.expect("no panic").expect("clean stop");
}
