"""The one list of reward options, shared by every adapter (TRL, verl, EasyR1, OpenRLHF, prime).

Options come from keyword arguments (verl ``reward_kwargs``, EasyR1 ``reward_function_kwargs``, TRL
``make_trl_reward(...)``) or from ``ERM_REWARD_*`` environment variables. Every option below reaches the
judge on every path; an option erm does not know is an error (one line naming it and the known ones),
never silently dropped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ...errors import InputError

#: Options of the adapters themselves (how samples are scored), with their environment variables.
ADAPTER_OPTIONS: dict[str, str | None] = {
    "judge": "ERM_REWARD_JUDGE", "url": "ERM_REWARD_URL", "model": "ERM_REWARD_MODEL",
    "timeout": "ERM_REWARD_TIMEOUT", "max_workers": "ERM_REWARD_WORKERS", "root": "ERM_REWARD_ROOT",
    "token": "ERM_REWARD_TOKEN", "render_weight": None, "visual_weight": None,
    "profile": "ERM_REWARD_PROFILE", "reward_log": "ERM_REWARD_LOG",
    "ray_pool": "ERM_REWARD_RAY_POOL", "ray_actors": "ERM_REWARD_RAY_ACTORS",
}
#: Options handed to the judge, per judge (``erm judge`` flags of the same names).
JUDGE_OPTIONS: dict[str, tuple[str, ...]] = {
    "critic": ("ocr", "max_side", "min_side", "max_severity"),
    "vlm": ("prompt_file", "swap", "sampling", "max_image_side", "retries", "model_options", "image_style",
            "answer_reader"),
}
#: Judge options that may also come from the environment.
JUDGE_ENV: dict[str, str] = {"prompt_file": "ERM_REWARD_PROMPT_FILE"}
PROFILES = ("erm", "visual-erm")
#: Keywords a framework itself adds to reward calls (verl's reward loop with a generative RM): not options.
FRAMEWORK_KEYWORDS = frozenset({"reward_router_address", "reward_model_tokenizer"})


@dataclass
class RewardOptions:
    """Checked reward options. ``judge_options`` go to the judge's constructor."""

    judge: Any = "critic"
    model: str | None = None
    timeout: float | None = None
    max_workers: int | None = None
    root: str | None = None
    token: str | None = None
    render_weight: float = 1.0
    visual_weight: float = 1.0
    profile: str | None = None
    reward_log: str | None = None
    ray_pool: str | None = None     # score on this named pool of Ray judge actors (erm_cli.distributed.ray_reward)
    ray_actors: int | None = None
    judge_options: dict[str, Any] = field(default_factory=dict)

    def score_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`erm_cli.train.rewards.score_batch`."""
        return {"judge": self.judge, "model": self.model, "timeout": self.timeout, "max_workers": self.max_workers,
                "root": self.root, "token": self.token, "render_weight": self.render_weight,
                "visual_weight": self.visual_weight, "profile": self.profile, **self.judge_options}


def known_options() -> list[str]:
    names = set(ADAPTER_OPTIONS)
    for opts in JUDGE_OPTIONS.values():
        names.update(opts)
    return sorted(names)


def judge_name(judge: Any) -> str | None:
    """``critic``/``vlm``/... for a judge given by name; None for a URL or a judge object."""
    if isinstance(judge, str) and not judge.startswith(("http://", "https://")):
        return judge
    return None


def parse_options(kwargs: dict[str, Any], *, use_env: bool = True) -> RewardOptions:
    """Check and split ``kwargs`` (plus the environment); raises :class:`InputError` on an unknown option,
    an option the chosen judge does not take, or a bad value."""
    kwargs = {k: v for k, v in kwargs.items() if k not in FRAMEWORK_KEYWORDS}
    unknown = sorted(k for k in kwargs if k not in known_options())
    if unknown:
        raise InputError(f"unknown reward option(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(known_options())}")

    def get(name: str) -> Any:
        if kwargs.get(name) is not None:
            return kwargs[name]
        env = ADAPTER_OPTIONS.get(name) or JUDGE_ENV.get(name)
        return os.environ.get(env) if (use_env and env and os.environ.get(env)) else None

    judge = kwargs.get("judge") or kwargs.get("url") or (get("url") or get("judge")) or "critic"
    opts = RewardOptions(judge=judge, model=get("model"), root=get("root"), token=get("token"),
                         reward_log=get("reward_log"), ray_pool=get("ray_pool") or None)
    try:
        if get("ray_actors") is not None:
            opts.ray_actors = int(get("ray_actors"))
        if get("timeout") is not None:
            opts.timeout = float(get("timeout"))
        if get("max_workers") is not None:
            opts.max_workers = int(get("max_workers"))
        opts.render_weight = float(kwargs.get("render_weight", 1.0))
        opts.visual_weight = float(kwargs.get("visual_weight", 1.0))
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad reward option value: {exc}") from None
    profile = get("profile")
    if profile is not None and profile not in PROFILES:
        raise InputError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    opts.profile = profile
    name = judge_name(judge)
    if profile is not None and name is None and isinstance(judge, str):
        raise InputError("reward option 'profile' cannot be sent to a remote judge; start erm serve with --profile")
    allowed = JUDGE_OPTIONS.get(name or "", ())
    for key in sorted(set(known_options()) - set(ADAPTER_OPTIONS)):
        value = get(key)
        if value is None:
            continue
        if name is None:
            where = "the erm serve command line" if isinstance(judge, str) else "the judge object you pass"
            raise InputError(f"reward option {key!r} cannot be sent to a remote judge; set it on {where}")
        if key not in allowed:
            raise InputError(f"reward option {key!r} does not apply to the {name} judge "
                             f"(it takes: {', '.join(allowed) or 'none'})")
        opts.judge_options[key] = coerce_judge_option(key, value)
    if opts.profile is None and name == "vlm":
        from ...judges.vlm import default_profile

        opts.profile = default_profile(opts.model)
    return opts


def coerce_judge_option(key: str, value: Any) -> Any:
    """Values from JSON/Hydra configs and environment strings in the types the judges take."""
    if key == "sampling":
        return sampling_option(value)
    if key == "swap":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if key in ("retries", "max_side", "min_side"):
        return int(value)
    if key == "max_image_side":
        return {k: int(v) for k, v in value.items()} if isinstance(value, dict) else int(value)
    if key == "max_severity":
        return float(value)
    if key == "model_options":
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict):
            raise InputError("model_options must be a mapping")
        return dict(value)
    return value


def sampling_option(value: Any) -> Any:
    """A Sampling, or a dict of them per task, from ``{"temperature": 0.7, ...}`` or
    ``{"chart": {...}, "table": {...}}`` (or the same as a JSON string)."""
    from dataclasses import fields, replace

    from ...judges.verdict import TASKS
    from ...judges.vlm import RELEASED_SAMPLING
    from ...models.base import Sampling

    if isinstance(value, Sampling):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InputError(f"sampling must be a JSON object, not {value[:60]!r}") from None
    if not isinstance(value, dict):
        raise InputError("sampling must be a mapping of Sampling fields, or of tasks to them")
    value = dict(value)
    names = {f.name for f in fields(Sampling)}

    def build(d: Any, task: str, where: str) -> Sampling:
        if isinstance(d, Sampling):
            return d
        if not isinstance(d, dict):
            raise InputError(f"sampling{where} must be a mapping")
        bad = sorted(set(d) - names)
        if bad:
            raise InputError(f"unknown sampling field(s) {', '.join(bad)}{where}; known: {', '.join(sorted(names))}")
        return replace(RELEASED_SAMPLING[task], **dict(d))  # fields not given keep the task's defaults

    if value and set(value) <= set(TASKS):
        return {t: build(v, t, f" for {t}") for t, v in value.items()}
    return {t: build(value, t, "") for t in TASKS}
