"""DeepSound-V1 step-by-step generation: plan, generate, detect voice-over, remove it, check silence.

Parts: ``trace`` (the JSON record), ``evidence``/``visual`` (measurements), ``reasoners`` (perception,
OpenAI-compatible endpoint, local transformers), ``removal``/``separator``/``bsroformer`` (removal
backends). The pipeline is ``deepaudio.pipelines.think.ThinkPipeline``.
"""
