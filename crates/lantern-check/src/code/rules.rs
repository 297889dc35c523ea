//! The code rules, one function per check, applied to each resolved call of a Python file.
//! "Downloaded" is a file-level approximation: a name assigned from a download call
//! (`hf_hub_download`, `requests.get`, `urlopen`, ...), or from an expression using such a
//! name (`os.path.join(d, "x.pkl")`), or the download call itself inside the argument.

use super::python::{Call, Lit, Module};
use crate::ids::CheckId;
use std::collections::HashSet;

/// Calls whose result is downloaded content or a path to it (last segment or dotted suffix).
const DOWNLOADERS: &[&str] = &[
    "hf_hub_download",
    "snapshot_download",
    "cached_download",
    "cached_path",
    "urlretrieve",
    "urlopen",
    "requests.get",
    "requests.post",
    "requests.request",
    "httpx.get",
    "download_url",
    "download_url_to_file",
    "wget.download",
    "gdown.download",
    "get_file",
    "load_state_dict_from_url",
];

/// Unpickling loaders (resolved dotted names).
const PICKLE_LOADERS: &[&str] = &[
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "_pickle.load",
    "cPickle.load",
    "dill.load",
    "dill.loads",
    "cloudpickle.load",
    "cloudpickle.loads",
    "joblib.load",
    "pandas.read_pickle",
];

/// Calls that take a hub repository id and accept `revision=`.
const HUB_LOADERS: &[&str] = &[
    "from_pretrained",
    "load_dataset",
    "hf_hub_download",
    "snapshot_download",
    "SentenceTransformer",
    "CrossEncoder",
];

/// A hit: check, line, and message.
pub type Hit = (CheckId, u32, String);

fn is_downloader(callee: &str) -> bool {
    DOWNLOADERS.iter().any(|d| {
        callee == *d
            || callee.ends_with(&format!(".{d}"))
            || !d.contains('.') && callee.rsplit('.').next() == Some(d)
    })
}

/// Names assigned (directly or transitively, to a fixed point) from downloaded content.
pub fn downloaded_names(m: &Module<'_>) -> HashSet<String> {
    let mut tainted: HashSet<String> = HashSet::new();
    for _ in 0..4 {
        let before = tainted.len();
        for (name, rhs) in &m.assigned {
            let names = m.names_under(*rhs);
            if names
                .iter()
                .any(|n| is_downloader(n) || tainted.contains(n))
            {
                tainted.insert(name.clone());
            }
        }
        if tainted.len() == before {
            break;
        }
    }
    tainted
}

fn from_download(m: &Module<'_>, tainted: &HashSet<String>, c: &Call<'_>) -> bool {
    c.args
        .iter()
        .chain(c.kwargs.iter().map(|(_, v)| v))
        .any(|a| {
            m.names_under(*a)
                .iter()
                .any(|n| is_downloader(n) || tainted.contains(n))
        })
}

/// Every rule on one call.
pub fn apply(m: &Module<'_>, tainted: &HashSet<String>, c: &Call<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    if c.callee == "dict" {
        // `**dict(trust_remote_code=True)`: reported on the call it is spread into.
        return out;
    }
    if matches!(c.kw("trust_remote_code").map(|v| m.lit(v)), Some(Lit::True)) {
        out.push((
            CheckId::TrustRemoteCode,
            c.line,
            format!(
                "{}(..., trust_remote_code=True) runs code from the repository",
                c.method()
            ),
        ));
    }
    out.extend(unpinned_revision(m, c));
    out.extend(torch(m, c));
    out.extend(pickle(m, tainted, c));
    if c.method() == "load_model" && matches!(c.kw("safe_mode").map(|v| m.lit(v)), Some(Lit::False))
    {
        out.push((
            CheckId::KerasUnsafeMode,
            c.line,
            "load_model(..., safe_mode=False) deserialises Lambda layer code".into(),
        ));
    }
    if matches!(
        c.callee.as_str(),
        "exec" | "eval" | "builtins.exec" | "builtins.eval"
    ) && from_download(m, tainted, c)
    {
        out.push((
            CheckId::ExecDownloaded,
            c.line,
            format!("{}() of text fetched from the network", c.callee),
        ));
    }
    out
}

/// The hub id a loader call names, if it is a literal `org/name`.
fn hub_target(m: &Module<'_>, c: &Call<'_>) -> Option<String> {
    let method = c.method();
    let node = if method == "pipeline" {
        c.kw("model").or_else(|| c.args.get(1).copied())?
    } else if HUB_LOADERS.contains(&method) {
        [
            "pretrained_model_name_or_path",
            "repo_id",
            "path",
            "model_name_or_path",
        ]
        .iter()
        .find_map(|k| c.kw(k))
        .or_else(|| c.args.first().copied())?
    } else {
        return None;
    };
    // `from_pretrained` on something that is not a class attribute is not the HF API.
    if method == "from_pretrained" && !c.callee.contains('.') {
        return None;
    }
    match m.lit(node) {
        Lit::Str(s) if s.contains('/') && lantern_bom::hf::is_repo_id(&s) => Some(s),
        _ => None,
    }
}

fn unpinned_revision(m: &Module<'_>, c: &Call<'_>) -> Option<Hit> {
    let id = hub_target(m, c)?;
    let pinned = match c.kw("revision").map(|v| m.lit(v)) {
        None => false,
        Some(Lit::Str(r)) => r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()),
        // A variable revision cannot be judged here: not reported.
        Some(_) => true,
    };
    (!pinned).then(|| {
        (
            CheckId::UnpinnedRevision,
            c.line,
            format!(
                "{}(\"{id}\") without revision= pinned to a commit: the repository can change under you",
                c.method()
            ),
        )
    })
}

fn torch(m: &Module<'_>, c: &Call<'_>) -> Option<Hit> {
    match c.callee.as_str() {
        "torch.hub.load" | "torch.hub.load_state_dict_from_url" if c.callee.ends_with("load") => {
            let local =
                matches!(c.kw("source").map(|v| m.lit(v)), Some(Lit::Str(s)) if s == "local");
            let repo = c.args.first().map(|a| m.lit(*a));
            match repo {
                Some(Lit::Str(r)) if !local && r.contains('/') => Some((
                    CheckId::TorchHubGithub,
                    c.line,
                    format!("torch.hub.load(\"{r}\") runs hubconf.py from GitHub"),
                )),
                _ => None,
            }
        }
        "torch.load" => match c.kw("weights_only").map(|v| m.lit(v)) {
            Some(Lit::False) => Some((
                CheckId::TorchLoadUnsafe,
                c.line,
                "torch.load(..., weights_only=False) unpickles arbitrary code".into(),
            )),
            // Absent and not hidden in `*args`/`**kwargs`: the pre-2.6 default unpickles.
            None if !c.opaque => Some((
                CheckId::TorchLoadUnsafe,
                c.line,
                "torch.load without weights_only=True (safe by default only from torch 2.6)".into(),
            )),
            // True, a variable, or possibly passed through `**kwargs`: not judged here.
            _ => None,
        },
        _ => None,
    }
}

fn pickle(m: &Module<'_>, tainted: &HashSet<String>, c: &Call<'_>) -> Option<Hit> {
    let numpy = matches!(c.callee.as_str(), "numpy.load")
        && matches!(c.kw("allow_pickle").map(|v| m.lit(v)), Some(Lit::True));
    if !(numpy || PICKLE_LOADERS.contains(&c.callee.as_str())) {
        return None;
    }
    from_download(m, tainted, c).then(|| {
        (
            CheckId::PickleLoad,
            c.line,
            format!(
                "{} of a downloaded file runs any code the file contains",
                c.callee
            ),
        )
    })
}
