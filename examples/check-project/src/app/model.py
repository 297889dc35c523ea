"""Loads a chat model and a classifier the risky way, for `lantern check`."""

import pickle

import torch
from huggingface_hub import hf_hub_download
from transformers import AutoModelForCausalLM as LM, AutoTokenizer

MODEL = "acme-research/chat-7b"


def load_chat():
    # Remote code from the hub, at whatever revision `main` points to today.
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = LM.from_pretrained(MODEL, trust_remote_code=True)
    return tok, model


def load_pinned():
    # Pinned to a commit: not reported.
    return AutoTokenizer.from_pretrained(
        "google-bert/bert-base-uncased",
        revision="86b5e0934494bd15c9632b12f734a8a67f723594",
    )


def load_classifier():
    path = hf_hub_download(
        "acme-research/classifier",
        "clf.pkl",
        revision="0123456789abcdef0123456789abcdef01234567",
    )
    with open(path, "rb") as fh:
        head = fh.read(2)
    del head
    return pickle.load(open(path, "rb"))


def load_weights(path):
    return torch.load(path)
