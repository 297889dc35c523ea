//! Per-response cost of output monitoring on a 2 KB model answer: the 11 built-in credential
//! patterns alone, and with the leak scanner's rules (`secret_rules = "lantern"`), on prose that
//! talks about keys and passwords (keyword hits, no secret), on the same answer with a secret, and
//! on the answer streamed as 6-character SSE events (redacting, with and without a secret that
//! arrives in pieces, and logging only); and the answer of the guard benchmark's mock upstream
//! (19 events of about 150 bytes arriving in one read), with the full monitor and with an empty
//! one (what the filter itself costs: event splitting, the chunk JSON view, queueing, output).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lantern_guard::config::{Action, MonitorConfig, SecretRules};
use lantern_guard::monitor::{LeakRules, Monitor, TextScanner};
use lantern_guard::sse::SseFilter;

/// About 2 KB of assistant prose that mentions tokens, keys, passwords and URLs.
fn answer() -> String {
    let para = "To call the API from your service, create a token in the dashboard and store it \
                in your secret manager rather than in the repository. The client reads the key \
                from an environment variable at start-up; rotate the password of the database \
                user every ninety days and never paste credentials into a chat. If the request \
                fails with 401, check that the Authorization header carries the bearer token and \
                that the key has not expired. See https://docs.example.com/auth for details.\n";
    let mut s = String::new();
    while s.len() < 2048 {
        s.push_str(para);
    }
    s.truncate(2048);
    s
}

fn monitor(rules: SecretRules) -> Monitor {
    let cfg = MonitorConfig {
        secret_rules: rules,
        ..MonitorConfig::default()
    };
    Monitor::new(&cfg, None).unwrap_or_else(|e| panic!("{e}"))
}

fn bench(c: &mut Criterion) {
    let clean = answer();
    let mut leaky = clean.clone();
    leaky.insert_str(
        1000,
        " hook https://hooks.slack.com/services/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 ",
    );
    leaky.truncate(2048);
    let builtin = monitor(SecretRules::Builtin);
    let lantern = monitor(SecretRules::Lantern);
    assert!(lantern.scan(&clean).is_empty());
    assert_eq!(lantern.scan(&leaky).len(), 1);
    let leak = lantern
        .leak_rules()
        .cloned()
        .unwrap_or_else(|| panic!("leak rules are on by default"));

    let mut g = c.benchmark_group("monitor_2k_response");
    g.bench_function("builtin_clean", |b| {
        b.iter(|| builtin.scan(black_box(&clean)))
    });
    g.bench_function("lantern_clean", |b| {
        b.iter(|| lantern.scan(black_box(&clean)))
    });
    g.bench_function("lantern_with_secret", |b| {
        b.iter(|| lantern.scan(black_box(&leaky)))
    });
    g.bench_function("leak_rules_only_clean", |b| {
        b.iter(|| leak.scan(black_box(&clean)))
    });
    g.finish();

    // The same answer streamed as 6-character SSE events, each pushed separately (the stream
    // filter scans in steps of its 128-character hold-back, with an overlap).
    let stream = |text: &str| -> Vec<String> {
        text.as_bytes()
            .chunks(6)
            .map(|c| {
                let piece = String::from_utf8_lossy(c);
                format!(
                    "data: {}\n\n",
                    serde_json::json!({"choices":[{"index":0,"delta":{"content":piece},"finish_reason":null}]})
                )
            })
            .chain(std::iter::once("data: [DONE]\n\n".to_string()))
            .collect()
    };
    let events = stream(&clean);
    // a secret of variable length (`{80,}`) that keeps matching while it arrives
    let mut secret = clean.clone();
    secret.insert_str(
        1000,
        " key sk-ant-admin01-diCjHIeelgXOfVW1OgWP7pHLQ0HRpa3WTXSEnufjLTzoxjQ73K2AT1kAUIl9yp6lFzQZ29y2B6SexVFiPfQl6gCK6vLRXAA ",
    );
    secret.truncate(2048);
    let secret_events = stream(&secret);
    let run = |m: &Monitor, action: Action, events: &[String]| {
        let mut f = SseFilter::new(m, action, 128, None);
        let mut n = 0;
        for e in events {
            n += f.push(e.as_bytes()).len();
        }
        n + f.finish().len()
    };
    let mut f = SseFilter::new(&lantern, Action::Redact, 128, None);
    for e in &secret_events {
        f.push(e.as_bytes());
    }
    f.finish();
    assert!(f.redacted);
    let mut g = c.benchmark_group("monitor_2k_stream_6char_events");
    for (name, m) in [("builtin", &builtin), ("lantern", &lantern)] {
        g.bench_function(name, |b| b.iter(|| run(m, Action::Redact, &events)));
    }
    g.bench_function("lantern_with_secret", |b| {
        b.iter(|| run(&lantern, Action::Redact, &secret_events))
    });
    g.bench_function("lantern_log_only", |b| {
        b.iter(|| run(&lantern, Action::Log, &events))
    });
    g.finish();

    // the mock upstream's streamed answer to the benchmark's prompt, as the guard reads it
    let mock = mock_stream(
        "You said: Summarise the plot of a short story about a lighthouse keeper in two sentences.",
    );
    let off = Monitor::new(
        &MonitorConfig {
            secrets: false,
            pii: false,
            ..MonitorConfig::default()
        },
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(off.is_empty());
    // as the guard reads it: one upstream frame
    let frame = bytes::Bytes::from(mock.clone());
    let one_read = |m: &Monitor| {
        let mut f = SseFilter::new(m, Action::Redact, 128, None);
        let n = f.push_frame(&frame).map_or(0, |b| b.len()) + f.finish().len();
        assert!(!f.text.is_empty());
        n
    };
    let short =
        "You said: Summarise the plot of a short story about a lighthouse keeper in two sentences.";
    let mut g = c.benchmark_group("monitor_short_answer");
    g.bench_function("lantern_clean", |b| {
        b.iter(|| lantern.scan(black_box(short)))
    });
    g.finish();

    // the protected-corpus check alone: an index of the benchmark's kind of corpus (n = 8)
    let mut idx = lantern_guard::ngram::NgramIndex::new(lantern_guard::ngram::DEFAULT_N);
    idx.add_text(&clean);
    idx.finish();
    let mut g = c.benchmark_group("ngram_find");
    g.bench_function("short_answer", |b| b.iter(|| idx.find(black_box(short))));
    g.bench_function("2k_corpus_text", |b| b.iter(|| idx.find(black_box(&clean))));
    g.finish();

    let mut g = c.benchmark_group("sse_mock_answer_one_read");
    g.bench_function("lantern_redact", |b| {
        b.iter(|| one_read(black_box(&lantern)))
    });
    g.bench_function("empty_monitor", |b| b.iter(|| one_read(black_box(&off))));
    g.finish();

    let mut g = c.benchmark_group("monitor_build");
    g.sample_size(10);
    g.bench_function("leak_rules_new", |b| {
        b.iter(|| LeakRules::new(lantern_secrets_medium(), lantern_core::Severity::Low, &[]))
    });
    g.finish();
}

/// The events the mock upstream (`guard-bench mock`) streams for `text` (6-character pieces, a role event,
/// the finish event, the usage event and `[DONE]`).
fn mock_stream(text: &str) -> String {
    let head = r#"data: {"choices":[{"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0}],"id":"chatcmpl-mock","model":"mock-model","object":"chat.completion.chunk"}"#;
    let mut s = format!("{head}\n\n");
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(6) {
        let p: String = piece.iter().collect();
        let ev = serde_json::json!({"choices":[{"delta":{"content":p},"finish_reason":null,"index":0}],"id":"chatcmpl-mock","model":"mock-model","object":"chat.completion.chunk"});
        s.push_str(&format!("data: {ev}\n\n"));
    }
    s.push_str(r#"data: {"choices":[{"delta":{},"finish_reason":"stop","index":0}],"id":"chatcmpl-mock","model":"mock-model","object":"chat.completion.chunk"}"#);
    s.push_str("\n\n");
    s.push_str(r#"data: {"choices":[],"id":"chatcmpl-mock","model":"mock-model","object":"chat.completion.chunk","usage":{"completion_tokens":23,"prompt_tokens":21,"total_tokens":44}}"#);
    s.push_str("\n\ndata: [DONE]\n\n");
    s
}

fn lantern_secrets_medium() -> lantern_secrets::Confidence {
    lantern_guard::config::RuleConfidence::Medium.to_secrets()
}

criterion_group!(benches, bench);
criterion_main!(benches);
