"""Photo + speech → artistic talking video (the original's entry point; see --help).

    python main_end2end_module2.py --jpg examples/hermione2.jpeg --audio examples/female12.wav --exp formal/drawing
"""
import sys

if __name__ == "__main__":
    from pipeline.align_worker import start_from_argv

    # Face alignment (about 1 s for a photo not seen before) starts in a child process before the heavy imports.
    early = start_from_argv(sys.argv[1:])
    from pipeline.cli import main

    sys.exit(main(early=early))
