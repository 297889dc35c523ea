"""Fine-tune a classifier on the support tickets dataset."""
import os
from openai import OpenAI

client = OpenAI(api_key="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")
HF_TOKEN = "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"  # TODO move to a vault
GITHUB_TOKEN = os.environ.get("GITHUB_TOKEN", "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")

def main():
    print("training...")
