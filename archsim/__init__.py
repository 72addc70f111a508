"""archsim: event-driven, cycle-accurate simulation of LLM autoregressive decoding."""
__version__ = "0.1.0"
