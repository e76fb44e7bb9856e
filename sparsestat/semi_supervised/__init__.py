"""Semi-supervised and transductive few-shot learning with instance credibility."""

from sparsestat.semi_supervised._ici import ICIFewShot

__all__ = ["ICIFewShot"]
