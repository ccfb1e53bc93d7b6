//! A small mutation fuzzer for what platforms and catalogs send: seeds (what the sandbox
//! serves, the demo tree) are mutated, structurally (any value swapped for a hostile one, keys
//! dropped, items repeated) and as bytes (flips, cuts, splices), and fed to a mapping for a
//! bounded time (`OPSDECK_FUZZ_SECONDS`, 2 s by default, and at least 200 inputs), so `make
//! test` runs each target. A panic fails the test with the input that caused it; errors are
//! what hostile input must get.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Values a platform might send where anything else was documented.
fn hostile_value(rng: &mut fastrand::Rng) -> Value {
    match rng.u8(..14) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!(i64::MAX),
        3 => json!(u64::MAX),
        4 => json!(1e308),
        5 => json!(""),
        6 => json!("x".repeat(rng.usize(..5000))),
        7 => json!("9999-99-99T99:99:99Z"),
        8 => json!("+275760-09-13T00:00:00Z"),
        9 => json!("\u{1b}]0;pwned\u{7}\u{0}../../"),
        10 => json!([]),
        11 => json!({}),
        12 => json!(true),
        _ => json!([[[[null]]]]),
    }
}

/// Every value inside `value`, depth first, as a path of keys and indices.
fn paths(value: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(here.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                here.push(json!(key));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                here.push(json!(index));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, step| match step {
        Value::String(key) => node.get_mut(key.as_str()),
        Value::Number(index) => node.get_mut(index.as_u64()? as usize),
        _ => None,
    })
}

/// A seed, with its JSON and every path into it when it is JSON.
struct Seed {
    bytes: Vec<u8>,
    json: Option<(Value, Vec<Vec<Value>>)>,
}

impl Seed {
    fn new(bytes: &[u8]) -> Self {
        let json = serde_json::from_slice::<Value>(bytes).ok().map(|value| {
            let mut all = Vec::new();
            paths(&value, &mut Vec::new(), &mut all);
            (value, all)
        });
        Self {
            bytes: bytes.to_vec(),
            json,
        }
    }
}

/// One mutation of `seed`: mostly structural when it is JSON, else of its bytes.
fn mutate(seed: &Seed, seeds: &[Seed], rng: &mut fastrand::Rng) -> Vec<u8> {
    if let (true, Some((value, all))) = (rng.u8(..5) != 0, &seed.json) {
        let mut value = value.clone();
        // A path may be gone after an earlier mutation of the same round: it is skipped.
        for _ in 0..=rng.usize(..4) {
            let path = &all[rng.usize(..all.len())];
            let Some(node) = at(&mut value, path) else {
                continue;
            };
            match rng.u8(..4) {
                0 | 1 => *node = hostile_value(rng),
                2 => {
                    if let Value::Object(map) = node {
                        if let Some(key) = map.keys().nth(rng.usize(..map.len().max(1))).cloned() {
                            map.remove(&key);
                        }
                    }
                }
                _ => {
                    if let Value::Array(items) = node {
                        if let Some(item) = items.first().cloned() {
                            items.extend(std::iter::repeat_n(item, rng.usize(1..50)));
                        }
                    }
                }
            }
        }
        return value.to_string().into_bytes();
    }
    let mut bytes = seed.bytes.clone();
    match rng.u8(..4) {
        0 if !bytes.is_empty() => {
            let i = rng.usize(..bytes.len());
            bytes[i] = rng.u8(..);
        }
        1 => bytes.truncate(rng.usize(..=bytes.len())),
        2 => {
            let other = &seeds[rng.usize(..seeds.len())].bytes;
            let cut = rng.usize(..=other.len());
            bytes.truncate(rng.usize(..=bytes.len()));
            bytes.extend_from_slice(&other[cut..]);
        }
        _ => {
            let i = rng.usize(..=bytes.len());
            bytes.splice(i..i, b"\xff\xfe\x00{[\"".iter().copied());
        }
    }
    bytes
}

/// Inputs every target is fed however slow the machine: the time budget adds to these, so a
/// loaded machine fuzzes as much, only slower.
const MIN_INPUTS: usize = 200;

/// Feeds mutations of `seeds` to `target` until the time is up and at least [`MIN_INPUTS`]
/// were tried; panics naming the input a panic came from.
pub(crate) fn fuzz(name: &str, seeds: &[Vec<u8>], target: impl Fn(&[u8])) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let budget = std::env::var("OPSDECK_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(2), Duration::from_secs_f64);
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let seeds: Vec<Seed> = seeds.iter().map(|s| Seed::new(s)).collect();
    let started = Instant::now();
    let mut tried = 0;
    while started.elapsed() < budget || tried < MIN_INPUTS {
        let input = mutate(&seeds[rng.usize(..seeds.len())], &seeds, &mut rng);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            panic!(
                "{name} (rng seed {seed}) panicked on input: {}",
                String::from_utf8_lossy(&input)
            );
        }
        tried += 1;
    }
}

/// What the sandbox (the demo organisation, every platform) answers at `path`: seeds shaped
/// as each platform's contract says.
pub(crate) async fn served(paths: &[&str]) -> Vec<Vec<u8>> {
    let sandbox = opsdeck_sandbox::Sandbox::start(opsdeck_sandbox::SandboxOptions {
        port: 0,
        seed: opsdeck_sandbox::Seed::Demo,
        token: Some("fuzz".into()),
        chaos: Default::default(),
        actions: Default::default(),
    })
    .await
    .expect("the sandbox starts");
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for path in paths {
        let request = client
            .get(format!("{}{path}", sandbox.url()))
            .header("Accept", "application/json");
        let answer = if path.starts_with("/pagerduty") {
            request.header("Authorization", "Token token=fuzz")
        } else {
            request.bearer_auth("fuzz")
        }
        .send()
        .await
        .unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        out.push(answer.bytes().await.unwrap().to_vec());
    }
    out
}
