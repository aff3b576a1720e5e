"""Photo + speech → artistic talking video (the original's entry point; see --help).

    python main_end2end_module2.py --jpg examples/hermione2.jpeg --audio examples/female12.wav --exp formal/drawing
"""
import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
