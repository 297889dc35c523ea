#!/usr/bin/env python3
"""Generate Lantern's labelled secret-detection evaluation set (stdlib only, deterministic).

Writes realistic source/config files (Python, JavaScript, YAML, .env, JSON, Jupyter notebooks,
shell, Terraform, Dockerfile) with planted *synthetic* secrets of many providers, plus decoys
that no scanner should report (placeholders, env lookups, hashes, UUIDs, base64 blobs, lockfile
integrity hashes, documented example keys). Every planted secret is listed in expected.jsonl
as {"file", "line", "family", "rule", "secret"}; decoys are listed in decoys.jsonl.

Usage: python3 bench/labelled/make.py [OUTDIR]   (default: bench/work/labelled)
"""
import base64
import hashlib
import json
import os
import random
import shutil
import string
import sys
import uuid
import zlib

SEED = 20261125
R = random.Random(SEED)
ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def rs(n, cs=ALNUM):
    return "".join(R.choice(cs) for _ in range(n))


def ruuid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def base62(n, width):
    cs = string.digits + string.ascii_uppercase + string.ascii_lowercase
    out = ""
    while n:
        n, d = divmod(n, 62)
        out = cs[d] + out
    return out.rjust(width, "0")


def github_like(prefix):
    body = rs(30)
    return prefix + body + base62(zlib.crc32(body.encode()), 6)


# family, Lantern rule id, variable name, generator
PROVIDERS = [
    ("openai", "openai.api-key", "OPENAI_API_KEY", lambda: "sk-proj-" + rs(74, URLSAFE) + "T3BlbkFJ" + rs(74, URLSAFE)),
    ("openai", "openai.api-key", "OPENAI_ADMIN_KEY", lambda: "sk-admin-" + rs(58, URLSAFE) + "T3BlbkFJ" + rs(58, URLSAFE)),
    ("openai", "openai.api-key", "OPENAI_KEY", lambda: "sk-" + rs(20) + "T3BlbkFJ" + rs(20)),
    ("anthropic", "anthropic.api-key", "ANTHROPIC_API_KEY", lambda: "sk-ant-api03-" + rs(93, URLSAFE) + "AA"),
    ("anthropic", "anthropic.admin-api-key", "ANTHROPIC_ADMIN_KEY", lambda: "sk-ant-admin01-" + rs(93, URLSAFE) + "AA"),
    ("huggingface", "huggingface.access-token", "HF_TOKEN", lambda: "hf_" + rs(34, string.ascii_letters)),
    ("huggingface", "huggingface.organization-api-token", "HF_ORG_TOKEN", lambda: "api_org_" + rs(34, string.ascii_letters)),
    ("replicate", "replicate.api-token", "REPLICATE_API_TOKEN", lambda: "r8_" + rs(37)),
    ("groq", "groq.api-key", "GROQ_API_KEY", lambda: "gsk_" + rs(52)),
    ("perplexity", "perplexity.api-key", "PPLX_API_KEY", lambda: "pplx-" + rs(48)),
    ("xai", "xai.api-key", "XAI_API_KEY", lambda: "xai-" + rs(80)),
    ("openrouter", "openrouter.api-key", "OPENROUTER_API_KEY", lambda: "sk-or-v1-" + rs(64, HEX)),
    ("pinecone", "pinecone.api-key", "PINECONE_API_KEY", lambda: "pcsk_" + rs(5) + "_" + rs(63)),
    ("langsmith", "langchain.langsmith-personal-access-token", "LANGCHAIN_API_KEY", lambda: "lsv2_pt_" + rs(32, HEX) + "_" + rs(10, HEX)),
    ("langsmith", "langchain.langsmith-service-key", "LANGSMITH_API_KEY", lambda: "lsv2_sk_" + rs(32, HEX) + "_" + rs(10, HEX)),
    ("langfuse", "langfuse.secret-key", "LANGFUSE_SECRET_KEY", lambda: "sk-lf-" + ruuid()),
    ("gemini", "gcp.api-key", "GOOGLE_API_KEY", lambda: "AIza" + rs(35, URLSAFE)),
    ("nvidia", "nvidia.api-key", "NVIDIA_API_KEY", lambda: "nvapi-" + rs(64, URLSAFE)),
    ("together", "togetherai.api-key", "TOGETHER_API_KEY", lambda: "tgp_v1_" + rs(43, URLSAFE)),
    ("cerebras", "cerebras.api-key", "CEREBRAS_API_KEY", lambda: "csk-" + rs(48, LOWER_ALNUM)),
    ("deepseek", "deepseek.api-key", "DEEPSEEK_API_KEY", lambda: "sk-" + rs(32, HEX)),
    ("llamacloud", "llamacloud.api-key", "LLAMA_CLOUD_API_KEY", lambda: "llx-" + rs(48)),
    ("tavily", "tavily.api-key", "TAVILY_API_KEY", lambda: "tvly-" + rs(32)),
    ("wandb", "wandb.api-key", "WANDB_API_KEY", lambda: rs(40, HEX)),
    ("cohere", "cohere.api-token", "COHERE_API_KEY", lambda: rs(40)),
    ("mistral", "mistral.api-key", "MISTRAL_API_KEY", lambda: rs(32)),
    ("elevenlabs", "elevenlabs.api-key", "ELEVENLABS_API_KEY", lambda: "sk_" + rs(48, HEX)),
    ("assemblyai", "assemblyai.api-key", "ASSEMBLYAI_API_KEY", lambda: rs(32, HEX)),
    ("deepgram", "deepgram.api-key", "DEEPGRAM_API_KEY", lambda: rs(40, HEX)),
    ("azure-openai", "azure.openai-key", "AZURE_OPENAI_API_KEY", lambda: rs(32, HEX)),
    ("aws", "aws.access-key-id", "AWS_ACCESS_KEY_ID", lambda: "AKIA" + rs(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
    ("github", "github.pat", "GITHUB_TOKEN", lambda: github_like("ghp_")),
    ("github", "github.fine-grained-pat", "GH_PAT", lambda: "github_pat_" + rs(22) + "_" + rs(59)),
    ("gitlab", "gitlab.pat", "GITLAB_TOKEN", lambda: "glpat-" + rs(20, URLSAFE)),
    ("slack", "slack.bot-token", "SLACK_BOT_TOKEN", lambda: "xoxb-" + rs(12, string.digits) + "-" + rs(13, string.digits) + "-" + rs(24)),
    ("slack", "slack.webhook-url", "SLACK_WEBHOOK_URL", lambda: "https://hooks.slack.com/services/T" + rs(8, UPPER_ALNUM) + "/B" + rs(10, UPPER_ALNUM) + "/" + rs(24)),
    ("stripe", "stripe.access-token", "STRIPE_SECRET_KEY", lambda: "sk_live_" + rs(99)),
    ("stripe", "stripe.webhook-secret", "STRIPE_WEBHOOK_SECRET", lambda: "whsec_" + rs(32)),
    ("sendgrid", "sendgrid.api-token", "SENDGRID_API_KEY", lambda: "SG." + rs(22, URLSAFE) + "." + rs(43, URLSAFE)),
    ("npm", "npm.access-token", "NPM_TOKEN", lambda: github_like("npm_")),
    ("pypi", "pypi.upload-token", "PYPI_TOKEN", lambda: "pypi-AgEIcHlwaS5vcmc" + rs(70, URLSAFE)),
    ("dockerhub", "dockerhub.personal-access-token", "DOCKERHUB_TOKEN", lambda: "dckr_pat_" + rs(27, URLSAFE)),
    ("vault", "vault.service-token", "VAULT_TOKEN", lambda: "hvs." + rs(95, URLSAFE)),
    ("digitalocean", "digitalocean.pat", "DIGITALOCEAN_TOKEN", lambda: "dop_v1_" + rs(64, HEX)),
    ("newrelic", "newrelic.user-api-key", "NEW_RELIC_API_KEY", lambda: "NRAK-" + rs(27, UPPER_ALNUM)),
    ("shopify", "shopify.access-token", "SHOPIFY_TOKEN", lambda: "shpat_" + rs(32, HEX)),
    ("doppler", "doppler.api-token", "DOPPLER_TOKEN", lambda: "dp.pt." + rs(43)),
    ("postman", "postman.api-token", "POSTMAN_API_KEY", lambda: "PMAK-" + rs(24, HEX) + "-" + rs(34, HEX)),
    ("grafana", "grafana.service-account-token", "GRAFANA_TOKEN", lambda: "glsa_" + rs(32) + "_" + rs(8, HEX)),
    ("azure-storage", "azure.storage-connection-string", "AZURE_STORAGE_CONNECTION_STRING",
     lambda: "DefaultEndpointsProtocol=https;AccountName=mlartifacts;AccountKey=" + rs(86, B64) + "==;EndpointSuffix=core.windows.net"),
    ("azure-devops", "azure.devops-pat", "AZURE_DEVOPS_EXT_PAT", lambda: rs(52) + "JQQJ99" + rs(18) + "AZDO" + rs(4)),
    ("gcp-oauth", "gcp.oauth-client-secret", "GOOGLE_CLIENT_SECRET", lambda: "GOCSPX-" + rs(28, URLSAFE)),
    ("twilio", "twilio.api-key", "TWILIO_API_KEY", lambda: "SK" + rs(32, HEX)),
    ("mailgun", "mailgun.private-api-token", "MAILGUN_API_KEY", lambda: "key-" + rs(32, HEX)),
    ("linear", "linear.api-key", "LINEAR_API_KEY", lambda: "lin_api_" + rs(40)),
    ("sentry", "sentry.user-token", "SENTRY_AUTH_TOKEN", lambda: "sntryu_" + rs(64, HEX)),
    ("atlassian", "atlassian.api-token", "JIRA_API_TOKEN", lambda: "ATATT3" + rs(186, URLSAFE) + "=" + rs(8, "0123456789ABCDEF")),
    ("telegram", "telegram.bot-api-token", "TELEGRAM_BOT_TOKEN", lambda: rs(10, string.digits) + ":AA" + rs(33, URLSAFE)),
    ("discord", "discord.webhook-url", "DISCORD_WEBHOOK", lambda: "https://discord.com/api/webhooks/" + rs(19, string.digits) + "/" + rs(68, URLSAFE)),
    ("supabase", "supabase.management-token", "SUPABASE_ACCESS_TOKEN", lambda: "sbp_" + rs(40, HEX)),
    ("onepassword", "1password.service-account-token", "OP_SERVICE_ACCOUNT_TOKEN", lambda: "ops_eyJ" + rs(300, B64)),
    ("age", "age.secret-key", "AGE_KEY", lambda: "AGE-SECRET-KEY-1" + rs(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")),
]

DECOYS = [
    ("placeholder", lambda: "sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
    ("placeholder", lambda: "<your-openai-api-key>"),
    ("placeholder", lambda: "${OPENAI_API_KEY}"),
    ("placeholder", lambda: "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ("placeholder", lambda: "your_api_key_here"),
    ("placeholder", lambda: "changeme"),
    ("placeholder", lambda: "AKIAIOSFODNN7EXAMPLE"),
    ("placeholder", lambda: "sk_live_" + "0" * 24),
    ("sha256", lambda: hashlib.sha256(rs(16).encode()).hexdigest()),
    ("sha1", lambda: hashlib.sha1(rs(16).encode()).hexdigest()),
    ("md5", lambda: hashlib.md5(rs(16).encode()).hexdigest()),
    ("uuid", ruuid),
    ("base64-blob", lambda: base64.b64encode(bytes(R.getrandbits(8) for _ in range(96))).decode()),
    ("integrity", lambda: "sha512-" + base64.b64encode(hashlib.sha512(rs(8).encode()).digest()).decode()),
    ("model-revision", lambda: hashlib.sha1(rs(8).encode()).hexdigest()),
]


class Builder:
    def __init__(self, out):
        self.out = out
        self.expected = []
        self.decoys = []

    def write(self, rel, lines, planted, decoyed):
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        text = "\n".join(lines) + "\n"
        with open(path, "w") as f:
            f.write(text)
        for secret, fam, rule in planted:
            line = next(i + 1 for i, l in enumerate(lines) if secret in l)
            self.expected.append({"file": rel, "line": line, "family": fam, "rule": rule, "secret": secret})
        for value, kind in decoyed:
            line = next(i + 1 for i, l in enumerate(lines) if value in l)
            self.decoys.append({"file": rel, "line": line, "kind": kind, "value": value})


def pick_providers(n):
    return [R.choice(PROVIDERS) for _ in range(n)]


def decoy():
    kind, gen = R.choice(DECOYS)
    return kind, gen()


def python_file(b, i):
    lines = ['"""Training job configuration."""', "import os", "", "import torch", ""]
    planted, decoyed = [], []
    for fam, rule, var, gen in pick_providers(R.randint(1, 3)):
        s = gen()
        lines.append(f'{var} = "{s}"')
        planted.append((s, fam, rule))
    kind, d = decoy()
    lines.append(f'CHECKPOINT_DIGEST = "{d}"  # {kind}')
    decoyed.append((d, kind))
    lines += ["", 'api_key = os.environ.get("OPENAI_API_KEY", "")', "", "def main():", "    model = torch.nn.Linear(4, 2)", "    return model", ""]
    b.write(f"src/py/job_{i:03}.py", lines, planted, decoyed)


def js_file(b, i):
    lines = ["// client config", "import axios from 'axios';", ""]
    planted, decoyed = [], []
    for fam, rule, var, gen in pick_providers(R.randint(1, 2)):
        s = gen()
        key = var.lower().replace("_", "")
        lines.append(f"const {key} = '{s}';")
        planted.append((s, fam, rule))
    kind, d = decoy()
    lines.append(f"const requestId = '{d}';")
    decoyed.append((d, kind))
    lines += ["", "export default { baseURL: process.env.API_URL };"]
    b.write(f"web/src/config_{i:03}.js", lines, planted, decoyed)


def yaml_file(b, i):
    lines = ["# deployment values", "replicaCount: 2", "image:", "  repository: ghcr.io/acme/inference", f"  tag: \"{hashlib.sha1(str(i).encode()).hexdigest()[:12]}\"", "env:"]
    planted, decoyed = [], []
    for fam, rule, var, gen in pick_providers(R.randint(1, 3)):
        s = gen()
        lines += [f"  - name: {var}", f"    value: \"{s}\""]
        planted.append((s, fam, rule))
    kind, d = decoy()
    lines += ["  - name: MODEL_SHA", f"    value: \"{d}\""]
    decoyed.append((d, kind))
    b.write(f"deploy/values_{i:03}.yaml", lines, planted, decoyed)


def env_file(b, i):
    lines = ["# local settings, do not commit", "DEBUG=false", "PORT=8080"]
    planted, decoyed = [], []
    for fam, rule, var, gen in pick_providers(R.randint(1, 4)):
        s = gen()
        lines.append(f"{var}={s}")
        planted.append((s, fam, rule))
    kind, d = decoy()
    lines.append(f"BUILD_ID={d}")
    decoyed.append((d, kind))
    b.write(f"envs/service_{i:03}/.env", lines, planted, decoyed)


def json_file(b, i):
    planted, decoyed = [], []
    obj = {"name": f"svc-{i}", "region": "eu-west-1", "credentials": {}}
    for fam, rule, var, gen in pick_providers(R.randint(1, 2)):
        if var.lower() in obj["credentials"]:
            continue
        s = gen()
        obj["credentials"][var.lower()] = s
        planted.append((s, fam, rule))
    kind, d = decoy()
    obj["artifact_sha256"] = d
    decoyed.append((d, kind))
    lines = json.dumps(obj, indent=2).splitlines()
    b.write(f"config/settings_{i:03}.json", lines, planted, decoyed)


def notebook(b, i):
    planted, decoyed = [], []
    fam, rule, var, gen = R.choice(PROVIDERS)
    s = gen()
    kind, d = decoy()
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Fine-tuning experiment\n"]},
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
         "source": ["import os\n", f"os.environ['{var}'] = '{s}'\n", f"run_id = '{d}'\n"]},
    ]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    lines = json.dumps(nb, indent=1).splitlines()
    planted.append((s, fam, rule))
    decoyed.append((d, kind))
    b.write(f"notebooks/experiment_{i:03}.ipynb", lines, planted, decoyed)


def shell_file(b, i):
    fam, rule, var, gen = R.choice(PROVIDERS)
    s = gen()
    lines = ["#!/usr/bin/env bash", "set -euo pipefail", f"export {var}=\"{s}\"", "python train.py --epochs 3"]
    b.write(f"scripts/run_{i:03}.sh", lines, [(s, fam, rule)], [])


def terraform_file(b, i):
    fam, rule, var, gen = R.choice(PROVIDERS)
    s = gen()
    kind, d = decoy()
    lines = ['resource "kubernetes_secret" "api" {', "  metadata {", '    name = "api-keys"', "  }", "  data = {", f'    {var.lower()} = "{s}"', "  }", "}", f'# checksum {d}']
    b.write(f"infra/secrets_{i:03}.tf", lines, [(s, fam, rule)], [(d, kind)])


def workspace_files(b, i):
    """Credentials that ML workspaces leak outside provider key formats."""
    kind = i % 6
    if kind == 0:
        auth = base64.b64encode(("ml-bot:" + rs(24)).encode()).decode()
        lines = ["{", '  "auths": {', '    "ghcr.io": {', f'      "auth": "{auth}"', "    }", "  },", '  "credsStore": ""', "}"]
        b.write(f"home/user_{i:03}/.docker/config.json", lines, [(auth, "docker-config", "docker.config-auth")], [])
    elif kind == 1:
        tok = rs(40, HEX)
        lines = ["registry=https://registry.npmjs.org/", "@acme:registry=https://npm.pkg.github.com/", f"//npm.pkg.github.com/:_authToken={tok}", "always-auth=true"]
        b.write(f"web/app_{i:03}/.npmrc", lines, [(tok, "npmrc", "npm.registry-auth-token")], [])
    elif kind == 2:
        key = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo" + rs(600, B64) + "=="
        lines = ["apiVersion: v1", "kind: Config", "clusters:", "- cluster:", "    server: https://10.0.0.1:6443", "  name: gpu-cluster", "users:", "- name: trainer",
                 "  user:", "    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg" + rs(200, B64), f"    client-key-data: {key}"]
        b.write(f"infra/kube_{i:03}/config", lines, [(key, "kubeconfig", "kubernetes.kubeconfig-client-key")], [])
    elif kind == 3:
        tok = rs(48, HEX)
        cells = [{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["!jupyter server list\n"],
                  "outputs": [{"name": "stdout", "output_type": "stream", "text": ["Currently running servers:\n", f"http://127.0.0.1:8888/?token={tok} :: /home/user\n"]}]}]
        nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        b.write(f"notebooks/servers_{i:03}.ipynb", json.dumps(nb, indent=1).splitlines(), [(tok, "jupyter", "jupyter.server-token")], [])
    elif kind == 4:
        tok = rs(27) + "_" + rs(21)
        cells = [{"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [], "source": ["from pyngrok import ngrok\n", f"ngrok.set_auth_token(\"{tok}\")\n", "public_url = ngrok.connect(7860)\n"]}]
        nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        b.write(f"notebooks/demo_{i:03}.ipynb", json.dumps(nb, indent=1).splitlines(), [(tok, "ngrok", "ngrok.authtoken")], [])
    else:
        key = rs(50, ALNUM + "!@#%^&*(-_=+)")
        lines = ['"""Django settings for the labelling tool."""', "from pathlib import Path", "", "BASE_DIR = Path(__file__).resolve().parent.parent", f"SECRET_KEY = '{key}'", "DEBUG = False"]
        b.write(f"labeltool/settings_{i:03}.py", lines, [(key, "django", "django.secret-key")], [])


def clean_files(b):
    # files with decoys only: none of these lines should be reported
    for i in range(40):
        kind, d = decoy()
        lines = ["# generated lockfile / cache metadata", f'resolved = "https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.0.{i}.tgz"', f'integrity = "{d}"', f"revision: {hashlib.sha1(str(i).encode()).hexdigest()}"]
        b.write(f"clean/meta_{i:03}.txt", lines, [], [(d, kind)])
    doc = ["# Setup", "", "Set `OPENAI_API_KEY=sk-...` in your shell, e.g.", "", "    export OPENAI_API_KEY=<your key>", "    export HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "",
           "AWS docs use AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY as examples."]
    b.write("clean/README.md", doc, [], [])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "work", "labelled")
    out = os.path.abspath(out)
    corpus = os.path.join(out, "corpus")
    if os.path.exists(corpus):
        shutil.rmtree(corpus)
    os.makedirs(corpus)
    b = Builder(corpus)
    for i in range(40):
        python_file(b, i)
    for i in range(25):
        js_file(b, i)
    for i in range(25):
        yaml_file(b, i)
    for i in range(30):
        env_file(b, i)
    for i in range(20):
        json_file(b, i)
    for i in range(20):
        notebook(b, i)
    for i in range(10):
        shell_file(b, i)
    for i in range(10):
        terraform_file(b, i)
    for i in range(24):
        workspace_files(b, i)
    clean_files(b)
    with open(os.path.join(out, "expected.jsonl"), "w") as f:
        for e in b.expected:
            f.write(json.dumps(e) + "\n")
    with open(os.path.join(out, "decoys.jsonl"), "w") as f:
        for e in b.decoys:
            f.write(json.dumps(e) + "\n")
    fams = sorted({e["family"] for e in b.expected})
    print(f"{out}: {len(b.expected)} planted secrets ({len(fams)} families), {len(b.decoys)} decoys")


if __name__ == "__main__":
    main()
