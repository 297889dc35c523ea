//! Code rule tests: each rule must fire on the risky form and stay quiet on the safe one.

use super::*;
use crate::ids::CheckId;

fn hits(src: &str) -> Vec<(CheckId, u32)> {
    check_source(src.as_bytes(), "app.py", &Policy::default())
        .into_iter()
        .map(|f| (f.check, f.line.unwrap()))
        .collect()
}

#[test]
fn trust_remote_code_through_aliases_and_kwargs() {
    let src = r#"
from transformers import AutoModel as AM, AutoConfig
import datasets
AM.from_pretrained("org/model", revision="0123456789abcdef0123456789abcdef01234567", trust_remote_code=True)
opts = {"trust_remote_code": True}
AutoConfig.from_pretrained("./local", **opts)
datasets.load_dataset("org/data", revision="0123456789abcdef0123456789abcdef01234567", **dict(trust_remote_code=True))
AM.from_pretrained("./local", trust_remote_code=False)
"#;
    assert_eq!(
        hits(src),
        vec![
            (CheckId::TrustRemoteCode, 4),
            (CheckId::TrustRemoteCode, 6),
            (CheckId::TrustRemoteCode, 7)
        ]
    );
}

#[test]
fn unpinned_revisions_need_a_commit_hash() {
    let src = r#"
from transformers import AutoTokenizer, pipeline
AutoTokenizer.from_pretrained("meta-llama/Llama-2-7b-hf")
AutoTokenizer.from_pretrained("meta-llama/Llama-2-7b-hf", revision="main")
AutoTokenizer.from_pretrained("meta-llama/Llama-2-7b-hf", revision="0123456789abcdef0123456789abcdef01234567")
AutoTokenizer.from_pretrained(model_dir)
AutoTokenizer.from_pretrained("org/x", revision=rev)
pipe = pipeline("text-generation", model="mistralai/Mistral-7B-v0.1")
"#;
    assert_eq!(
        hits(src),
        vec![
            (CheckId::UnpinnedRevision, 3),
            (CheckId::UnpinnedRevision, 4),
            (CheckId::UnpinnedRevision, 8)
        ]
    );
}

#[test]
fn torch_hub_and_torch_load() {
    let src = r#"
import torch
m = torch.hub.load("ultralytics/yolov5", "yolov5s")
m2 = torch.hub.load("./repo", "m", source="local")
a = torch.load("w.pt")
b = torch.load("w.pt", weights_only=True)
c = torch.load("w.pt", weights_only=False)
"#;
    assert_eq!(
        hits(src),
        vec![
            (CheckId::TorchHubGithub, 3),
            (CheckId::TorchLoadUnsafe, 5),
            (CheckId::TorchLoadUnsafe, 7)
        ]
    );
}

#[test]
fn pickle_of_downloads_exec_and_keras() {
    let src = r#"
import pickle, joblib, requests
import numpy as np
from huggingface_hub import hf_hub_download
from tensorflow import keras
path = hf_hub_download("org/model", "model.pkl", revision="0123456789abcdef0123456789abcdef01234567")
clf = joblib.load(path)
with open(path, "rb") as f:
    obj = pickle.load(f)
local = pickle.load(open("cache.pkl", "rb"))
arr = np.load(hf_hub_download("org/x", "a.npy", revision="0123456789abcdef0123456789abcdef01234567"), allow_pickle=True)
ok = np.load("a.npy")
r = requests.get("https://example.com/s.py")
exec(r.text)
eval("1+1")
m = keras.models.load_model("m.keras", safe_mode=False)
"#;
    let h = hits(src);
    assert!(h.contains(&(CheckId::PickleLoad, 7)), "{h:?}");
    assert!(h.contains(&(CheckId::PickleLoad, 11)), "{h:?}");
    assert!(h.contains(&(CheckId::ExecDownloaded, 14)), "{h:?}");
    assert!(h.contains(&(CheckId::KerasUnsafeMode, 16)), "{h:?}");
    // `f` is opened from a downloaded path inside `with`: not tracked (with-bindings), and the
    // local cache load and the literal eval are not downloads.
    assert!(
        !h.iter().any(|(_, l)| *l == 10 || *l == 12 || *l == 15),
        "{h:?}"
    );
}

#[test]
fn dev_paths_are_recognised() {
    assert!(is_dev_path("tests/test_x.py"));
    assert!(is_dev_path("pkg/test_model.py"));
    assert!(is_dev_path("docs/conf.py"));
    assert!(!is_dev_path("src/pkg/model.py"));
    assert!(!is_dev_path("src/pkg/contest.py"));
}

#[test]
fn unseen_arguments_and_shadowed_names_are_not_judged() {
    let src = r#"
import torch
from transformers import AutoModel
model_id = "org/default"
def load(model_id, **kwargs):
    AutoModel.from_pretrained(model_id)
    torch.load("w.pt", **kwargs)
    torch.load(*args, weights_only=weights_only)
    torch.load("w.pt", weights_only=flag)
NAME = "org/fixed"
AutoModel.from_pretrained(NAME)
extra = {}
extra["weights_only"] = True
torch.load("w.pt", **extra)
"#;
    assert_eq!(hits(src), vec![(CheckId::UnpinnedRevision, 11)]);
}
