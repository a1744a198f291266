"""`erm serve`: the configured judge as an HTTP reward service (and optionally an OpenAI-compatible model)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ..errors import InputError
from . import options as opt


def serve(
    judge: str = opt.judge("Judge to serve: critic (no weights) or vlm."),
    model: str | None = opt.model("Model spec for --judge vlm and/or --openai: tiny:qwen3-vl, hf:PATH, vllm:PATH "
                                  "or openai:URL#MODEL."),
    openai: bool = typer.Option(False, "--openai",
                                help="Also expose the --model (hf:, tiny: or vllm:) as an OpenAI-compatible "
                                     "/v1/chat/completions endpoint."),
    served_model_name: str | None = typer.Option(None, "--served-model-name",
                                                    help="Model name for --openai (default: from the spec)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (0.0.0.0 to listen on all)."),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port."),
    token: str | None = typer.Option(None, "--token", envvar="ERM_SERVE_TOKEN",
                                        help="Require 'Authorization: Bearer TOKEN' (env ERM_SERVE_TOKEN)."),
    allowed_root: list[Path] = opt.allowed_root("Allow reference/candidate paths under this folder (repeatable; "
                                                "a relative path is looked up in each in turn; paths are "
                                                "refused without one)."),
    max_concurrency: int = typer.Option(4, "--max-concurrency", min=1, help="Judgements running at once."),
    max_queue: int = typer.Option(64, "--max-queue", min=0, help="Requests waiting beyond that (then HTTP 503)."),
    timeout: float = opt.timeout("Seconds one item may run (then 504).", default=120.0, min=1.0),
    max_body_mb: float = typer.Option(32.0, "--max-body-mb", min=0.1, help="Largest request body (then 413)."),
    max_items: int = typer.Option(256, "--max-items", min=1, help="Largest /reward batch."),
    max_pixels: int = typer.Option(16_000_000, "--max-pixels", min=1024,
                                   help="Largest image (width x height) a request may send (then 413)."),
    pixel_budget: int = typer.Option(96_000_000, "--pixel-budget", min=2048,
                                     help="Decoded pixels shared by all requests in flight (then they wait)."),
    header_timeout: float = typer.Option(10.0, "--header-timeout", min=0.5,
                                         help="Seconds a client may take to send a request's headers (then 408)."),
    body_timeout: float = typer.Option(60.0, "--body-timeout", min=0.5,
                                       help="Seconds a client may take to send a request's body (then 408)."),
    max_batch: int = typer.Option(8, "--max-batch", min=1,
                                  help="Requests merged into one generate call for a local model."),
    batch_window_ms: float = typer.Option(10.0, "--batch-window-ms", min=0.0,
                                          help="How long to wait for more requests to batch."),
    prompt_file: Path | None = typer.Option(None, "--prompt-file", exists=True,
                                               help="Judge prompts (JSON, sections or a folder; see docs/MODELS.md)."),
    swap: bool = typer.Option(False, "--swap", help="vlm judge: also judge with the images swapped and average."),
    dtype: str | None = typer.Option(None, "--dtype", help="hf/tiny/vllm: float32, bfloat16, float16 or auto."),
    device: str | None = typer.Option(None, "--device", help="hf/tiny: cpu, cuda, cuda:N or auto."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    profile: str | None = typer.Option(None, "--profile", help="Render code candidates like erm or like the "
                                       "released Visual-ERM reward (visual-erm; the default when --model is the "
                                       "released Visual-ERM judge)."),
    quiet: bool = opt.quiet("No start-up lines on stderr."),
    verbose: bool = opt.verbose(),
    ray_address: str | None = typer.Option(None, "--ray", metavar="ADDRESS", help="Serve as a Ray Serve "
                                           "application ('local', 'auto', HOST:PORT or ray://HOST:PORT): the same "
                                           "HTTP API, --replicas judge replicas with request batching "
                                           "(docs/SCALING.md)."),
    replicas: int = typer.Option(2, "--replicas", min=1, metavar="N", help="--ray: judge replicas."),
    replica_cpus: float = typer.Option(1.0, "--replica-cpus", min=0.0, metavar="CPUS", help="--ray: CPUs per judge replica."),
) -> None:
    """Serve the judge over HTTP: POST /judge, POST /reward (batches), GET /health;
    OpenAPI docs at /docs. With --openai also /v1/chat/completions for a local model.

    Examples:

    \b
      erm serve --port 8765   # serves until Ctrl-C; then: curl http://127.0.0.1:8765/health
      erm serve --judge vlm --model hf:/models/Visual-ERM --openai --port 8000   # needs the model
    """
    import uvicorn

    from ..serve.app import create_app

    if judge not in ("critic", "vlm", "ssim", "mse", "phash"):
        raise InputError(f"unknown judge {judge!r}; choose critic or vlm (or a baseline: ssim, mse, phash)")
    if judge == "vlm" and not model:
        raise InputError("--judge vlm needs --model SPEC (e.g. tiny:qwen3-vl, hf:PATH, openai:URL#MODEL)")
    if openai and not model:
        raise InputError("--openai needs --model with a local model (hf:PATH, tiny:FAMILY or vllm:PATH)")
    model_options = {"dtype": dtype, "device": device} if model and not model.startswith(("openai:", "http")) else {}
    if model and model.startswith("vllm:"):
        model_options.pop("device", None)
    if ray_address is not None:
        _serve_on_ray(ray_address, judge, model, prompt_file, swap, model_options, replicas, replica_cpus,
                      max_concurrency, max_batch, batch_window_ms, host, port, openai, quiet, log_level,
                      {"allowed_root": allowed_root or None, "token": token or None, "max_queue": max_queue,
                       "max_body_mb": max_body_mb, "timeout": timeout, "max_items": max_items,
                       "max_pixels": max_pixels, "pixel_budget": pixel_budget, "profile": profile})
        return
    app = create_app(judge, model=model if judge == "vlm" else None, prompt_file=str(prompt_file) if prompt_file else None,
                     swap=swap, openai_model=model if openai else None, served_model_name=served_model_name,
                     allowed_root=allowed_root or None, token=token or None, max_concurrency=max_concurrency,
                     max_queue=max_queue, max_body_mb=max_body_mb, timeout=timeout, max_items=max_items,
                     max_batch=max_batch, batch_window_ms=batch_window_ms, model_options=model_options,
                     max_pixels=max_pixels, pixel_budget=pixel_budget, header_timeout=header_timeout,
                     body_timeout=body_timeout, profile=profile)
    from ..console import err_console

    routes = "/judge, /reward, /health" + (", /v1/chat/completions, /v1/models" if openai else "")
    err_console.print(f"erm serve: judge [bold]{judge}[/]" + (f" with {model}" if judge == "vlm" else "")
                      + f" on http://{host}:{port} ({routes}; docs at /docs)"
                      + ("; bearer token required" if token else ""))
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        err_console.print("[yellow]warning:[/] listening beyond loopback without --token (only requests with a "
                          "loopback Host header are answered)")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=log_level == "debug",
                    **app.state.uvicorn_options)  # header/body deadlines, header size cap
    finally:
        from ..renderers import sandbox

        sandbox.shutdown()  # renders still running in worker threads fail now instead of holding the exit


def _serve_on_ray(address: str, judge: str, model: str | None, prompt_file: Path | None, swap: bool,
                  model_options: dict, replicas: int, replica_cpus: float, threads: int, max_batch: int,
                  batch_window_ms: float, host: str, port: int, openai: bool, quiet: bool, log_level: str,
                  app_options: dict) -> None:
    if openai:
        raise InputError("--openai is not served with --ray (serve the model with vLLM or erm serve without --ray)")
    from ..distributed.ray_pool import import_ray

    import_ray()  # one line naming the extra when Ray is missing
    try:
        from ..serve.ray_app import RayServeOptions, serve_until_stopped
    except ImportError:
        raise InputError("Ray Serve is not installed: pip install 'erm-cli[ray]'") from None
    from ..console import err_console

    options = RayServeOptions(judge=judge, model=model if judge == "vlm" else None,
                              prompt_file=str(prompt_file) if prompt_file else None, swap=swap,
                              model_options=model_options, replicas=replicas, replica_cpus=replica_cpus,
                              threads=threads, max_batch=max_batch, batch_window_ms=batch_window_ms,
                              app_options=app_options,
                              log_level="INFO" if log_level in ("debug", "trace") else "WARNING")

    def ready(url: str) -> None:
        if not quiet:
            err_console.print(f"erm serve --ray: judge [bold]{judge}[/], {replicas} replicas on {url} (/judge, "
                              "/reward, /health)" + ("; bearer token required" if app_options["token"] else ""))

    serve_until_stopped(address, options, host=host, port=port, on_ready=ready)
