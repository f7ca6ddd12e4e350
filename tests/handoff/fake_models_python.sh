#!/bin/sh
# Stands in for the Rasa environment's Python (HANDOFF_MODELS_PYTHON) in the in-process tests of the handoff
# service, so that no test (the fuzzer neither) starts a real retraining or promotion: a retraining reports one
# progress line, then waits until the service stops it; a promotion fails at once. The real commands are tested
# in tests/handoff/e2e/test_models.py.
case "$*" in
  *bot.registry*) echo "error: the stand-in for the Rasa environment promotes nothing"; exit 1 ;;
esac
echo '{"progress": {"stage": "training the candidate", "percent": 5.0, "detail": "stand-in"}}'
exec sleep 60
