"""Web app: ``python app.py [--port N]`` serves the photo + speech → talking portrait pipeline on 127.0.0.1.

Upload or record a face photo and a speech recording, pick the style and options, press Start:
the page shows a progress bar, then the video, the landmark preview and the quality report.
Every run is built through the command line's own parser (:func:`pipeline.cli.build_parser`,
:func:`pipeline.cli.config_from_args`), so the options mean exactly what the CLI's flags mean,
and a bad input shows the CLI's one-line ``error: ...`` message. Jobs run one at a time (others
queue); a failing job never stops the server. Nothing is sent anywhere: Gradio's analytics are off,
no share link is made and the page uses the browser's own fonts.
"""
from __future__ import annotations

import argparse
import html
import logging
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from common import UserError
from pipeline.cli import build_parser, config_from_args

if TYPE_CHECKING:
    import gradio as gr

__all__ = ["build_app", "job_argv", "main"]

log = logging.getLogger("app")

REPO = Path(__file__).resolve().parent
EXAMPLES = REPO / "examples"
STYLES = {"drawing": "formal/drawing", "cartoon": "formal/cartoon"}


def _option(dest: str) -> argparse.Action | None:
    """The CLI's option with destination ``dest`` (None when the CLI has no such option)."""
    for action in build_parser()._actions:
        if action.dest == dest:
            return action
    return None


def _choices(dest: str) -> list[str]:
    action = _option(dest)
    assert action is not None and action.choices is not None, dest
    return [str(c) for c in action.choices]


def job_argv(photo: str | None, speech: str | None, style: str, size: str, seed: float | None,
             head_motion: float, predictor: str, renderer: str, output_dir: Path,
             transcript: str | None = None) -> list[str]:
    """The command line equivalent to the form (what ``main_end2end_module2.py`` would be given)."""
    argv = ["--output_dir", str(output_dir), "--exp", STYLES.get(style, style), "--size", str(size),
            "--seed", str(int(seed or 0)), "--head_motion", f"{float(head_motion):g}",
            "--predictor", predictor, "--renderer", renderer]
    if photo:
        argv += ["--jpg", photo]
    if speech:
        argv += ["--audio", speech]
    action = _option("transcript")
    if transcript and transcript.strip() and action is not None:
        # Always through a file of the job's own: the CLI reads a value ending in .txt as a file name,
        # and a visitor's text must never name a file on the server.
        output_dir.mkdir(parents=True, exist_ok=True)
        path = output_dir / "transcript.txt"
        path.write_text(transcript.strip() + "\n", encoding="utf-8")
        argv += [action.option_strings[-1], str(path)]
    return argv


def _report_frame(path: Path) -> str:
    # The report is a whole page with its own styles: an iframe keeps them apart from the app's.
    page = path.read_text(encoding="utf-8")
    return (f'<iframe id="report-frame" title="quality report" srcdoc="{html.escape(page, quote=True)}" '
            'style="width:100%;height:820px;border:1px solid #ddd;border-radius:6px"></iframe>')


def _run_job(output_root: Path, photo, speech, style, size, seed, head_motion, predictor, renderer,
             transcript=None, progress: gr.Progress | None = None):
    """One job: (status line, video, landmark preview, report HTML, report file)."""
    from pipeline.run import run  # heavy (torch, back-ends): after the page is up

    job_dir = output_root / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
    try:
        if progress is not None:
            progress(0.0, desc="reading the photo and the speech")
        argv = job_argv(photo, speech, style, size, seed, head_motion, predictor, renderer, job_dir, transcript)
        try:
            ns = build_parser().parse_args(argv)
        except SystemExit:  # argparse already said why on the server's stderr
            raise UserError("invalid options") from None
        result = run(config_from_args(ns))
    except UserError as exc:
        log.info("job %s: error: %s", job_dir.name, exc)
        return f"error: {exc}", None, None, "", None
    except Exception as exc:  # a bug must not take the server down, nor show a stack trace
        log.exception("job %s failed", job_dir.name)
        return f"error: internal error ({type(exc).__name__}); the server log has the details", None, None, "", None
    report = result.report if result.report is not None else result.video.parent / "report.html"
    status = (f"done: {result.frames} frames ({result.frames / ns.fps:.2f} s), landmarks by {result.predictor}, "
              f"frames by {result.renderer}")
    return status, str(result.video), str(result.preview), _report_frame(report), str(report)


def _gradio():
    """Gradio, imported on first use (it takes seconds; the job helpers above do not need it)."""
    # Read by gradio at import time: no analytics or version checks, no hub calls.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import gradio

    return gradio


def build_app(output_root: Path) -> gr.Blocks:
    """The page: inputs on the left, results on the right; jobs queue one at a time."""
    gr = _gradio()
    transcript_opt = _option("transcript")
    with gr.Blocks(title="AnimatePortrait", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# AnimatePortrait\nA talking portrait line drawing (or cartoon) from one face photo and "
                    "a speech recording.")
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(label="Face photo", sources=["upload", "webcam"], type="filepath",
                                 elem_id="photo", height=320)
                speech = gr.Audio(label="Speech", sources=["upload", "microphone"], type="filepath",
                                  elem_id="speech")
                style = gr.Radio(list(STYLES), value="drawing", label="Style", elem_id="style")
                size = gr.Radio(_choices("size"), value="512", label="Size (pixels)", elem_id="size")
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, label="Seed (same seed, same video)", elem_id="seed")
                    head = gr.Slider(0.0, 2.0, value=1.0, step=0.1, label="Head motion (0 = still)",
                                     elem_id="head_motion")
                extra = []
                if transcript_opt is not None:
                    extra.append(gr.Textbox(label="Transcript (optional)", lines=2, elem_id="transcript",
                                            info=transcript_opt.help or None))
                with gr.Accordion("Back-ends", open=False):
                    predictor = gr.Dropdown(_choices("predictor"), value="auto", label="Landmarks",
                                            elem_id="predictor")
                    renderer = gr.Dropdown(_choices("renderer"), value="auto", label="Frames", elem_id="renderer")
                start = gr.Button("Start", variant="primary", elem_id="start")
                examples = [[str(EXAMPLES / "astronaut.jpg"), str(EXAMPLES / "speech.wav")]]
                if all(Path(p).is_file() for p in examples[0]):
                    gr.Examples(examples, [photo, speech], label="Example")
            with gr.Column(scale=1):
                status = gr.Textbox(label="Status", interactive=False, elem_id="status", max_lines=1)
                video = gr.Video(label="Talking portrait", interactive=False, elem_id="result")
                preview = gr.Video(label="Landmark preview", interactive=False, elem_id="preview")
                report_file = gr.File(label="Quality report (report.html)", interactive=False, elem_id="report-file")
        report = gr.HTML(elem_id="report")

        # Gradio passes the progress tracker by its position in the signature: no *args here.
        def job(photo, speech, style, size, seed, head, predictor, renderer,
                progress=gr.Progress(track_tqdm=True)):
            return _run_job(output_root, photo, speech, style, size, seed, head, predictor, renderer, None, progress)

        def job_with_transcript(photo, speech, style, size, seed, head, predictor, renderer, transcript,
                                progress=gr.Progress(track_tqdm=True)):
            return _run_job(output_root, photo, speech, style, size, seed, head, predictor, renderer, transcript,
                            progress)

        start.click(job_with_transcript if extra else job, [photo, speech, style, size, seed, head, predictor, renderer, *extra],
                    [status, video, preview, report, report_file], concurrency_limit=1,
                    show_progress="full")
    demo.queue(default_concurrency_limit=1, max_size=64)
    return demo


def main(argv: list[str] | None = None) -> int:
    """Serve the app on 127.0.0.1 until interrupted."""
    p = argparse.ArgumentParser(allow_abbrev=False, prog="app.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--port", type=int, default=7860, help="port on 127.0.0.1")
    p.add_argument("--output_dir", type=Path, default=Path("output/web"),
                   help="each job writes <output_dir>/<time>-<id>/<photo>-<audio>/")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr, force=True)
    output_root = args.output_dir.resolve()
    try:
        output_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot write to output folder {output_root}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    gr = _gradio()
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    build_app(output_root).launch(
        server_name="127.0.0.1", server_port=args.port, share=False, inbrowser=False, ssr_mode=False,
        show_error=False, allowed_paths=[str(output_root)], max_file_size="200mb", theme=theme,
        footer_links=["api", "settings"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
