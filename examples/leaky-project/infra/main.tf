provider "aws" {
  region     = "us-east-1"
  access_key = "AKIAG4BE4UMR46PQM4I2"
  secret_key = "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"
}
