//! `lantern guard`: run the gateway, administer its keys, build the verbatim-corpus index, and
//! run the mock upstream used by tests and benchmarks.

use anyhow::{bail, Context};
use clap::Subcommand;
use lantern_guard::keys::{self, KeyStore, NewKey, Scopes};
use lantern_guard::GuardConfig;
use std::path::PathBuf;

/// Arguments of `lantern guard`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args)]
struct StoreArgs {
    /// Key store file (default: `keys_file` of --config, else guard-keys.json)
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Guard configuration whose `keys_file` to use
    #[arg(long)]
    config: Option<PathBuf>,
}

impl StoreArgs {
    fn path(&self) -> anyhow::Result<PathBuf> {
        if let Some(k) = &self.keys {
            return Ok(k.clone());
        }
        if let Some(c) = &self.config {
            return Ok(GuardConfig::load(c)
                .with_context(|| format!("loading {}", c.display()))?
                .keys_file);
        }
        Ok(PathBuf::from("guard-keys.json"))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway in front of an OpenAI-compatible upstream
    Serve {
        /// Configuration file (guard.toml)
        #[arg(long)]
        config: PathBuf,
        /// Override `listen`
        #[arg(long)]
        listen: Option<String>,
        /// Share rate limits through this Redis (redis://host:port[/db])
        #[arg(long)]
        redis: Option<String>,
        /// Worker threads (default: one per core)
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Issue, list, rotate, revoke and audit API keys
    Keys {
        #[command(subcommand)]
        command: KeysCmd,
    },
    /// Build the n-gram index of a protected corpus (verbatim-regurgitation detection)
    Index {
        /// Directory of text files
        corpus: PathBuf,
        /// Output index file
        #[arg(long, short)]
        out: PathBuf,
        /// Consecutive tokens that make a verbatim match (2 to 64)
        #[arg(long, default_value_t = lantern_guard::ngram::DEFAULT_N as u64,
              value_parser = clap::value_parser!(u64).range(2..=64))]
        n: u64,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Issue a key; the token is printed once and only its hash is stored
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Owner label (person, team, contractor)
        #[arg(long)]
        owner: String,
        /// Allowed model (repeatable; `prefix*` allowed; default all)
        #[arg(long = "model")]
        models: Vec<String>,
        /// Allowed endpoint path (repeatable; default all)
        #[arg(long = "endpoint")]
        endpoints: Vec<String>,
        /// Lifetime: 30d, 12h, 45m, 600s, or 0 for no expiry
        #[arg(long, default_value = "7d")]
        ttl: String,
        /// Requests per minute for this key
        #[arg(long)]
        rpm: Option<u64>,
        /// Tokens per minute for this key
        #[arg(long)]
        tpm: Option<u64>,
        /// Print the token and record as JSON
        #[arg(long)]
        json: bool,
    },
    /// List keys (never the tokens)
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Issue a successor with the same owner, scopes and limits; the old key expires after --grace
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        /// Key id
        id: String,
        /// How long the old key keeps working
        #[arg(long, default_value = "1h")]
        grace: String,
        /// Lifetime of the new key (default: the old key's lifetime)
        #[arg(long)]
        ttl: Option<String>,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key now (a running guard picks it up within a second)
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// Key id
        id: String,
    },
    /// Access audit: expired-but-not-revoked, never-used and unused keys (exit 1 if any)
    Audit {
        #[command(flatten)]
        store: StoreArgs,
        /// Days without use that make a key stale
        #[arg(long, default_value_t = 30)]
        unused_days: u64,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
}

/// Parses `30d`, `12h`, `45m`, `600s`, `600` or `0`.
fn duration_secs(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'd')) => (&s[..i], 86_400),
        Some((i, 'h')) => (&s[..i], 3_600),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 's')) => (&s[..i], 1),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("invalid duration {s:?} (use e.g. 30d, 12h, 45m, 600s)"))?;
    n.checked_mul(mult)
        .with_context(|| format!("duration {s:?} too large"))
}

fn date(t: Option<u64>) -> String {
    keys::format_time(t)
}

/// Runs `lantern guard`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let now = keys::now_secs();
    match args.command {
        Cmd::Serve {
            config,
            listen,
            redis,
            threads,
        } => {
            let mut cfg = GuardConfig::load(&config)
                .with_context(|| format!("loading {}", config.display()))?;
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if redis.is_some() {
                cfg.limits.redis = redis;
            }
            lantern_guard::serve_blocking(cfg, threads)?;
            Ok(0)
        }
        Cmd::Keys { command } => keys_cmd(command, now),
        Cmd::Index { corpus, out, n } => {
            let (idx, files) = lantern_guard::ngram::build_dir(&corpus, n as usize)
                .with_context(|| format!("indexing {}", corpus.display()))?;
            idx.save(&out)?;
            eprintln!(
                "indexed {files} files: {} distinct {}-grams -> {}",
                idx.len(),
                idx.n(),
                out.display()
            );
            Ok(0)
        }
    }
}

fn keys_cmd(cmd: KeysCmd, now: u64) -> anyhow::Result<u8> {
    match cmd {
        KeysCmd::Create {
            store,
            owner,
            models,
            endpoints,
            ttl,
            rpm,
            tpm,
            json,
        } => {
            let path = store.path()?;
            let mut s = KeyStore::load(&path)?;
            let (token, rec) = s.create(
                NewKey {
                    owner,
                    scopes: Scopes { models, endpoints },
                    ttl_secs: Some(duration_secs(&ttl)?),
                    requests_per_minute: rpm,
                    tokens_per_minute: tpm,
                },
                now,
            )?;
            s.save()?;
            if json {
                println!("{}", serde_json::json!({"token": token, "key": rec}));
            } else {
                println!("{token}");
                eprintln!(
                    "key {} for {} expires {} (the token is shown only once)",
                    rec.id,
                    rec.owner,
                    date(rec.expires)
                );
            }
            Ok(0)
        }
        KeysCmd::List { store, json } => {
            let path = store.path()?;
            let s = KeyStore::load(&path)?;
            let usage = keys::load_usage(&path);
            if json {
                let v: Vec<serde_json::Value> = s
                    .keys()
                    .iter()
                    .map(|k| {
                        let mut v = serde_json::to_value(k).unwrap_or_default();
                        if let Some(o) = v.as_object_mut() {
                            o.remove("hash");
                            o.insert("last_used".into(), usage.get(&k.id).copied().into());
                            o.insert("status".into(), k.unusable(now).unwrap_or("active").into());
                        }
                        v
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{:<14} {:<20} {:<8} {:<26} {:<26} scopes",
                    "id", "owner", "status", "expires", "last used"
                );
                for k in s.keys() {
                    let scopes = format!(
                        "models={} endpoints={}",
                        if k.scopes.models.is_empty() {
                            "*".into()
                        } else {
                            k.scopes.models.join(",")
                        },
                        if k.scopes.endpoints.is_empty() {
                            "*".into()
                        } else {
                            k.scopes.endpoints.join(",")
                        }
                    );
                    println!(
                        "{:<14} {:<20} {:<8} {:<26} {:<26} {scopes}",
                        k.id,
                        k.owner,
                        k.unusable(now).unwrap_or("active"),
                        date(k.expires),
                        date(usage.get(&k.id).copied())
                    );
                }
            }
            Ok(0)
        }
        KeysCmd::Rotate {
            store,
            id,
            grace,
            ttl,
            json,
        } => {
            let path = store.path()?;
            let mut s = KeyStore::load(&path)?;
            let ttl = ttl.map(|t| duration_secs(&t)).transpose()?;
            let (token, rec) = s.rotate(&id, duration_secs(&grace)?, ttl, now)?;
            s.save()?;
            if json {
                println!("{}", serde_json::json!({"token": token, "key": rec}));
            } else {
                println!("{token}");
                eprintln!(
                    "key {} replaces {id} (which stops working at {})",
                    rec.id,
                    date(s.get(&id).and_then(|k| k.expires))
                );
            }
            Ok(0)
        }
        KeysCmd::Revoke { store, id } => {
            let path = store.path()?;
            let mut s = KeyStore::load(&path)?;
            if s.get(&id).is_none() {
                bail!("no key {id} in {}", path.display());
            }
            s.revoke(&id, now)?;
            s.save()?;
            eprintln!("revoked {id}");
            Ok(0)
        }
        KeysCmd::Audit {
            store,
            unused_days,
            json,
        } => {
            let path = store.path()?;
            let s = KeyStore::load(&path)?;
            let usage = keys::load_usage(&path);
            let found = keys::access_audit(&s, &usage, unused_days, now);
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                for f in &found {
                    println!(
                        "{:<14} {:<20} {:<11} last used {}",
                        f.id,
                        f.owner,
                        f.status,
                        date(f.last_used)
                    );
                }
                eprintln!("{} key(s) to review", found.len());
            }
            Ok(if found.is_empty() { 0 } else { 1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::duration_secs;

    #[test]
    fn durations() {
        assert_eq!(duration_secs("30d").ok(), Some(30 * 86_400));
        assert_eq!(duration_secs("12h").ok(), Some(43_200));
        assert_eq!(duration_secs("0").ok(), Some(0));
        assert!(duration_secs("1w").is_err());
    }
}
