"""Training of the tokenizer: resumable loop, losses, validation."""

from .loop import TrainConfig, train_tokenizer
from .validate import ValidationResult, validate_tokenizer

__all__ = ["TrainConfig", "train_tokenizer", "ValidationResult", "validate_tokenizer"]
