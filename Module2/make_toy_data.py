"""Write a tiny synthetic Module2 training set in the layout the training datasets read.

Usage::

    python Module2/make_toy_data.py --out <dir> [--n 8 --frames 6 --clips 2 --size 512 --seed 0]

Faces are drawn with OpenCV from known 68-point iBUG landmarks: a template face is
deformed per sample (similarity transform, jitter, mouth opening, eye openness); the
photo (background, hair, skin, eyes, brows, nose, lips), the line drawing (black contours
on white) and the cartoon (flat colours with outlines) are all drawn from the same points,
so every landmark file is exact. Layout written under ``<dir>``::

    Data/Photo/train/<id>.png                 A photos, RGB, size×size
    Data/Alm/MTCNN/train/<id>.png             landmark dots (black, white discs radius 5 at 512)
    Data/Alm_txt/MTCNN/train/<id>.txt         68 lines "x y" (pixels, x right, y down)
    Data/Amask/{nose,eyes,lips}/train/<id>.png  region masks (grey 0/255)
    Data/fakeB_static/train/<id>.png          static drawing of the photo (grey)      [drawing]
    Data/fakeB5_static/train/<id>.png         static cartoon of the photo (RGB)       [cartoon]
    Data/Drawing/train/<id>.png               B drawings (grey), other identities
    Data/Cartoon/train/<id>.png               B cartoons (RGB)
    Data/Blm/MTCNN/..., Data/Blm_txt/MTCNN/..., Data/Bmask/{nose,eyes,lips}/...
                                              same names as the B images (Drawing/ and Cartoon/ subtrees)
    Data/Drawing/scanner_frag_<k>_MTCNN/<f:05d>.png       drawing video clips (k = 0…clips-1)
    Data/Blm/MTCNN/scanner_frag_<k>_MTCNN/<f:05d>.png      their landmark dots
    Data/Blm_txt/MTCNN/scanner_frag_<k>_MTCNN/<f:05d>.txt  their landmarks
    Data/Blm_txt/MTCNN/scanner_frag_<k>_MTCNN/<f:05d>_win.txt  "x1 x2 y1 y2" face window
    Data/Bmask/{nose,eyes,lips}/scanner_frag_<k>_MTCNN/<f:05d>.png
    lists/trainA/{drawing,cartoon}.txt        absolute paths of the photos (one a line)
    lists/trainB/drawing.txt, lists/trainB/cartoon.txt   absolute paths of the B images
    Data/Photo/toy_MTCNN/ori.png, Data/Alm[_txt]/MTCNN/toy_MTCNN/...   a test sequence: the first photo
                                              with its mouth opening and closing over ``frames`` frames
    lists/testA/toy.txt, lists/testB/toy.txt  its test lists (the original's test layout)

Train on it with ``--dataroot drawing --list_dir <dir>/lists`` (or ``cartoon``); run ``test.py`` with
``--dataroot toy --list_dir <dir>/lists``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if not __package__:  # run as a script (`python Module2/make_toy_data.py`): make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from Module2.data.landmark_maps import FACE_LMARK_LOOKUP  # noqa: E402
from Module2.data.test_layout import landmark_dots, write_test_layout  # noqa: E402

__all__ = ["template_landmarks", "random_face", "draw_photo", "draw_drawing", "draw_cartoon", "region_masks", "make_toy_data"]

# faceLmarkLookup contour segments: lips, nose, brows, eyes, jaw (the original's faceLmarkLookup)
SEGMENTS = [(int(a), int(b)) for a, b in FACE_LMARK_LOOKUP]


def template_landmarks(size: int = 512) -> np.ndarray:
    """A frontal 68-point iBUG face (68,2) ``(x, y)`` inside the 0.15–0.85 × 0.2–0.9 window."""
    p = np.zeros((68, 2))
    t = np.linspace(np.pi * 1.02, -np.pi * 0.02, 17)
    p[0:17] = np.stack([0.5 + 0.27 * np.cos(t), 0.47 + 0.37 * np.sin(t)], 1)
    bx = np.linspace(0.28, 0.44, 5)
    p[17:22] = np.stack([bx, 0.38 - 0.03 * np.sin(np.linspace(0.3, 2.8, 5))], 1)
    p[22:27] = np.stack([1 - bx[::-1], p[17:22, 1][::-1]], 1)
    p[27:31] = np.stack([np.full(4, 0.5), np.linspace(0.45, 0.58, 4)], 1)
    p[31:36] = np.stack([np.linspace(0.45, 0.55, 5), np.array([0.6, 0.61, 0.615, 0.61, 0.6])], 1)

    def eye(cx: float, open_: float = 0.025) -> np.ndarray:
        return np.array([[cx - 0.06, 0.45], [cx - 0.025, 0.45 - open_], [cx + 0.025, 0.45 - open_],
                         [cx + 0.06, 0.45], [cx + 0.025, 0.45 + open_], [cx - 0.025, 0.45 + open_]])

    p[36:42] = eye(0.37)
    e = eye(0.63)
    p[42:48] = e[[0, 1, 2, 3, 4, 5]]
    ox = np.array([0.41, 0.44, 0.47, 0.5, 0.53, 0.56, 0.59, 0.56, 0.53, 0.5, 0.47, 0.44])
    oy = np.array([0.70, 0.685, 0.675, 0.68, 0.675, 0.685, 0.70, 0.725, 0.74, 0.745, 0.74, 0.725])
    p[48:60] = np.stack([ox, oy], 1)
    p[60:68] = np.array([[0.43, 0.70], [0.47, 0.695], [0.5, 0.697], [0.53, 0.695], [0.57, 0.70],
                         [0.53, 0.705], [0.5, 0.707], [0.47, 0.705]])
    return (p * size).astype(np.float64)


def random_face(rng: np.random.Generator, size: int = 512, mouth: float | None = None, eyes: float | None = None,
                pose: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """The template deformed: mouth opening, eye openness, jitter, similarity ``pose=(angle°, scale, dx, dy)``."""
    p = template_landmarks(size) / size
    mouth = rng.uniform(0, 0.05) if mouth is None else mouth
    p[[55, 56, 57, 58, 59], 1] += mouth
    p[[65, 66, 67], 1] += mouth
    eyes = rng.uniform(0.6, 1.2) if eyes is None else eyes
    for a, b in ((37, 41), (38, 40), (43, 47), (44, 46)):
        mid = (p[a, 1] + p[b, 1]) / 2
        p[a, 1] = mid + (p[a, 1] - mid) * eyes
        p[b, 1] = mid + (p[b, 1] - mid) * eyes
    p = p + rng.normal(0, 0.003, p.shape)
    if pose is None:
        pose = (rng.uniform(-6, 6), rng.uniform(0.94, 1.04), rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02))
    ang, sc, dx, dy = pose
    th = np.deg2rad(ang)
    r = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    c = np.array([0.5, 0.55])
    p = (p - c) @ r.T * sc + c + [dx, dy]
    return p * size


def _pt(v: np.ndarray) -> tuple[int, int]:
    return int(round(float(v[0]))), int(round(float(v[1])))


def _poly(pts: np.ndarray) -> np.ndarray:
    return np.round(pts).astype(np.int32).reshape(-1, 1, 2)


def _head(lm: np.ndarray) -> np.ndarray:
    """Closed head outline: the jaw plus a forehead arc above the brows."""
    jaw = lm[0:17]
    top = lm[19:25, 1].min() - 0.6 * (lm[8, 1] - lm[27, 1]) * 0.45
    cx = (lm[0, 0] + lm[16, 0]) / 2
    rx = (lm[16, 0] - lm[0, 0]) / 2
    t = np.linspace(0, np.pi, 15)
    arc = np.stack([cx + rx * np.cos(t), lm[0, 1] - (lm[0, 1] - top) * np.sin(t)], 1)
    return np.concatenate([jaw, arc[1:-1]])


def draw_photo(lm: np.ndarray, rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """A photo-like RGB face (H,W,3 uint8) drawn from ``lm``."""
    bg = np.array(rng.uniform(60, 230, 3))
    yy = np.linspace(0.8, 1.1, size)[:, None, None]
    img = np.clip(bg[None, None] * yy * np.ones((size, size, 3)), 0, 255).astype(np.uint8)
    hair = tuple(int(v) for v in rng.uniform(10, 120, 3))
    skin = tuple(int(v) for v in np.array([150, 180, 220]) * rng.uniform(0.7, 1.05))
    head = _head(lm)
    cx, cy = head[:, 0].mean(), head[:, 1].mean()
    cv2.ellipse(img, (int(cx), int(cy - 0.08 * size)), (int(0.32 * size), int(0.36 * size)), 0, 180, 360, hair, -1)
    cv2.fillPoly(img, [_poly(head)], skin)
    cv2.fillPoly(img, [_poly(lm[31:36].tolist() + [lm[27]])], tuple(int(v * 0.9) for v in skin))
    for eye in (lm[36:42], lm[42:48]):
        cv2.fillPoly(img, [_poly(eye)], (235, 235, 235))
        c = eye.mean(0)
        r = max(2, int(0.35 * (eye[:, 1].max() - eye[:, 1].min() + 2)))
        cv2.circle(img, _pt(c), r, (40, 30, 20), -1)
        cv2.polylines(img, [_poly(eye)], True, (30, 30, 30), 2)
    for brow in (lm[17:22], lm[22:27]):
        cv2.polylines(img, [_poly(brow)], False, hair, 6)
    cv2.fillPoly(img, [_poly(lm[48:60])], (70, 60, 170))
    cv2.fillPoly(img, [_poly(lm[60:68])], (40, 30, 90))
    cv2.polylines(img, [_poly(lm[27:31])], False, tuple(int(v * 0.75) for v in skin), 2)
    noise = rng.normal(0, 4, img.shape)
    img = np.clip(img.astype(np.float64) + noise, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(img, (3, 3), 0)


def draw_drawing(lm: np.ndarray, size: int = 512, thickness: int = 3) -> np.ndarray:
    """A line drawing (H,W uint8 grey): black contours on white."""
    img = np.full((size, size), 255, np.uint8)
    for a, b in SEGMENTS:
        cv2.line(img, _pt(lm[a]), _pt(lm[b]), 0, thickness, cv2.LINE_AA)
    head = _head(lm)
    cv2.polylines(img, [_poly(head[16:])], False, 0, thickness, cv2.LINE_AA)
    for eye in (lm[36:42], lm[42:48]):
        cv2.circle(img, _pt(eye.mean(0)), 4, 0, -1)
    return img


def draw_cartoon(lm: np.ndarray, size: int = 512, hair=(40, 50, 90)) -> np.ndarray:
    """A flat-colour cartoon (H,W,3 uint8, BGR for cv2.imwrite) with dark outlines."""
    img = np.full((size, size, 3), 250, np.uint8)
    head = _head(lm)
    cx, cy = head[:, 0].mean(), head[:, 1].mean()
    cv2.ellipse(img, (int(cx), int(cy - 0.08 * size)), (int(0.32 * size), int(0.36 * size)), 0, 180, 360, hair, -1)
    cv2.fillPoly(img, [_poly(head)], (190, 210, 245))
    cv2.polylines(img, [_poly(head)], True, (60, 60, 90), 3)
    for eye in (lm[36:42], lm[42:48]):
        cv2.fillPoly(img, [_poly(eye)], (255, 255, 255))
        cv2.circle(img, _pt(eye.mean(0)), 6, (60, 40, 20), -1)
        cv2.polylines(img, [_poly(eye)], True, (20, 20, 20), 2)
    for brow in (lm[17:22], lm[22:27]):
        cv2.polylines(img, [_poly(brow)], False, (30, 30, 60), 5)
    cv2.polylines(img, [_poly(lm[27:31]), _poly(lm[31:36])], False, (90, 110, 160), 2)
    cv2.fillPoly(img, [_poly(lm[48:60])], (80, 80, 220))
    cv2.fillPoly(img, [_poly(lm[60:68])], (40, 40, 120))
    return img


def region_masks(lm: np.ndarray, size: int = 512) -> dict[str, np.ndarray]:
    """Grey 0/255 masks of the nose, the two eyes (with brows) and the lips (dilated hulls)."""
    out = {}
    k = max(3, size // 40)
    for name, groups in (("nose", [list(range(27, 36))]), ("eyes", [list(range(36, 42)) + list(range(17, 22)),
                                                                     list(range(42, 48)) + list(range(22, 27))]),
                         ("lips", [list(range(48, 68))])):
        m = np.zeros((size, size), np.uint8)
        for g in groups:
            cv2.fillConvexPoly(m, _poly(cv2.convexHull(lm[g].astype(np.float32))[:, 0]), 255)
        out[name] = cv2.dilate(m, np.ones((k, k), np.uint8))
    return out


def _write_lm(path: Path, lm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{x:.4f} {y:.4f}\n" for x, y in lm))


def _imwrite(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"cannot write {path}")


def _write_side(data: Path, kind: str, rel: str, lm: np.ndarray, img: np.ndarray, size: int) -> Path:
    """Write an image and its landmark dot image, landmark txt and masks; ``kind`` 'A' or 'B'."""
    folder = {"A": "Photo"}.get(kind, kind)
    path = data / folder / rel
    _imwrite(path, img)
    lm_dir, mask_dir = ("Alm", "Amask") if kind == "A" else ("Blm", "Bmask")
    _imwrite(data / lm_dir / "MTCNN" / rel, landmark_dots(lm, size))
    _write_lm((data / f"{lm_dir}_txt" / "MTCNN" / rel).with_suffix(".txt"), lm)
    for name, m in region_masks(lm, size).items():
        _imwrite(data / mask_dir / name / rel, m)
    return path


def make_toy_data(out: str | Path, n: int = 8, frames: int = 6, clips: int = 2, size: int = 512, seed: int = 0) -> Path:
    """Write the toy dataset under ``out`` (see module docstring); returns the list directory."""
    out = Path(out).resolve()
    data = out / "Data"
    rng = np.random.default_rng(seed)
    photos, drawings, cartoons = [], [], []
    test_photo: tuple[np.ndarray, np.ndarray] | None = None
    for i in range(n):
        lm = random_face(rng, size)
        rel = f"train/{i:04d}.png"
        photo = draw_photo(lm, rng, size)
        if test_photo is None:
            test_photo = (photo, lm)
        photos.append(_write_side(data, "A", rel, lm, photo, size))
        _imwrite(data / "fakeB_static" / rel, draw_drawing(lm, size))
        _imwrite(data / "fakeB5_static" / rel, draw_cartoon(lm, size))
        lmb = random_face(rng, size)
        drawings.append(_write_side(data, "Drawing", rel, lmb, draw_drawing(lmb, size), size))
        lmc = random_face(rng, size)
        hair = tuple(int(v) for v in rng.uniform(20, 140, 3))
        cartoons.append(_write_side(data, "Cartoon", rel, lmc, draw_cartoon(lmc, size, hair), size))
    for k in range(clips):
        pose0 = np.array([rng.uniform(-5, 5), rng.uniform(0.95, 1.03), rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02)])
        crng = np.random.default_rng(seed * 1000 + k + 1)
        for f in range(frames):
            pose = tuple(pose0 + [0.5 * f, 0.0, 0.002 * f, 0.0])
            lm = random_face(crng, size, mouth=0.025 * (1 + np.sin(f * 1.3)), eyes=1.0, pose=pose)
            rel = f"scanner_frag_{k}_MTCNN/{f:05d}.png"
            _write_side(data, "Drawing", rel, lm, draw_drawing(lm, size), size)
            sh = np.array([pose[2], pose[3]]) * size
            win = [round(0.15 * size + sh[0]), round(0.85 * size + sh[0]), round(0.2 * size + sh[1]), round(0.9 * size + sh[1])]
            win_txt = data / "Blm_txt" / "MTCNN" / f"scanner_frag_{k}_MTCNN" / f"{f:05d}_win.txt"
            win_txt.write_text(" ".join(str(int(v)) for v in win) + "\n")
    assert test_photo is not None
    photo, lm = test_photo
    # the test sequence: the lower lip opens and closes (up to 5 % of the image) over the frames
    opening = 0.05 * size * np.sin(np.linspace(0, np.pi, frames)) ** 2
    targets = np.repeat(lm[None], frames, 0)
    targets[:, [55, 56, 57, 58, 59, 65, 66, 67], 1] += opening[:, None]
    write_test_layout(out, "toy", cv2.cvtColor(photo, cv2.COLOR_BGR2RGB), lm, targets)
    lists = out / "lists"
    for sub, name, paths in (("trainA", "drawing", photos), ("trainA", "cartoon", photos),
                             ("trainB", "drawing", drawings), ("trainB", "cartoon", cartoons)):
        (lists / sub).mkdir(parents=True, exist_ok=True)
        (lists / sub / f"{name}.txt").write_text("".join(f"{p}\n" for p in paths))
    return lists


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--n", type=int, default=8, help="number of photos / drawings / cartoons")
    ap.add_argument("--frames", type=int, default=6, help="frames per drawing video clip (≥ 2)")
    ap.add_argument("--clips", type=int, default=2, help="number of drawing video clips")
    ap.add_argument("--size", type=int, default=512, help="image side in pixels")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.frames < 2 or a.n < 1 or a.clips < 1:
        ap.error("--n and --clips must be ≥ 1 and --frames ≥ 2")
    lists = make_toy_data(a.out, a.n, a.frames, a.clips, a.size, a.seed)
    print(f"toy dataset written to {Path(a.out).resolve()}; lists in {lists} (use --list_dir {lists})")


if __name__ == "__main__":
    main()
