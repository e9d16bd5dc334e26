"""Pictures of the classic-control tasks, drawn with numpy alone.

`renderer(env_id, params)` returns a function from an observation to an
RGB image (`uint8[height, width, 3]`), or None for the tasks that do not
render (the MuJoCo ones). Each picture is drawn from the observation only,
so a synthetic environment, whose observations stand for the real task's,
draws the scene its observation describes (a synthetic observation need not
be one the real task can reach: the picture is clipped to the frame).

What is drawn, with the task's parameters where they set the geometry:

- CartPole: the track, the cart at `x` and the pole at angle `theta` from
  upright (positive leans towards +x); the frame spans +-2 x_threshold.
- Acrobot: two links of `link_length_1/2` hanging from a pivot at angles
  `atan2(sin, cos)` of the observation, and the line (height 1 above the
  pivot) the tip must cross.
- MountainCar and MountainCarContinuous: the hill `0.45 sin(3x) + 0.55`
  between min_position and max_position, the car at `position` tilted with
  the slope, and the flag at goal_position.
- Pendulum: the rod at angle `atan2(sin, cos)` from upright,
  counter-clockwise positive.
"""

from __future__ import annotations

import math

import numpy as np

WHITE = (255, 255, 255)


class Canvas:
    """An RGB picture with filled shapes; coordinates are pixels from the
    bottom-left corner, y up. Shapes are rasterised at pixel centres over
    their bounding box only."""

    def __init__(self, width: int, height: int, background=WHITE):
        self.width, self.height = int(width), int(height)
        self._pixels = np.empty((self.height, self.width, 3), np.uint8)  # row 0 at the bottom
        self._pixels[:] = background

    def _box(self, xs, ys, pad=0.0):
        """The pixel centres of the bounding box (clipped), or None if empty."""
        x0, x1 = max(int(math.floor(min(xs) - pad)), 0), min(int(math.ceil(max(xs) + pad)), self.width)
        y0, y1 = max(int(math.floor(min(ys) - pad)), 0), min(int(math.ceil(max(ys) + pad)), self.height)
        if x0 >= x1 or y0 >= y1:
            return None
        px, py = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
        return (slice(y0, y1), slice(x0, x1)), px, py

    def polygon(self, points, color):
        """Fills a convex polygon (vertices in either order)."""
        pts = np.asarray(points, np.float64)
        if not np.all(np.isfinite(pts)):
            return
        box = self._box(pts[:, 0], pts[:, 1])
        if box is None:
            return
        region, px, py = box
        area = np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
        sign = 1.0 if area >= 0 else -1.0
        inside = np.ones(px.shape, bool)
        for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, axis=0)):
            inside &= sign * ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) >= 0
        self._pixels[region][inside] = color

    def circle(self, center, radius, color):
        cx, cy = center
        if not (math.isfinite(cx) and math.isfinite(cy)):
            return
        box = self._box([cx], [cy], pad=radius + 1)
        if box is None:
            return
        region, px, py = box
        self._pixels[region][(px - cx) ** 2 + (py - cy) ** 2 <= radius * radius] = color

    def line(self, a, b, width, color, round_ends=False):
        """A segment `width` pixels wide."""
        (ax, ay), (bx, by) = a, b
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        if not math.isfinite(length):
            return
        if length > 0:
            nx, ny = -dy / length * width / 2, dx / length * width / 2
            self.polygon([(ax + nx, ay + ny), (bx + nx, by + ny), (bx - nx, by - ny), (ax - nx, ay - ny)], color)
        if round_ends or length == 0:
            self.circle(a, width / 2, color)
            self.circle(b, width / 2, color)

    def polyline(self, points, width, color):
        for a, b in zip(points[:-1], points[1:]):
            self.line(a, b, width, color, round_ends=True)

    def copy(self) -> "Canvas":
        other = Canvas.__new__(Canvas)
        other.width, other.height, other._pixels = self.width, self.height, self._pixels.copy()
        return other

    def image(self) -> np.ndarray:
        """The picture, row 0 at the top (as images are stored)."""
        return np.ascontiguousarray(self._pixels[::-1])


def _rotate(points, angle, about):
    c, s = math.cos(angle), math.sin(angle)
    ox, oy = about
    return [(ox + c * x - s * y, oy + s * x + c * y) for x, y in points]


# ---------------------------------------------------------------------------
# The tasks


def _cartpole(params):
    x_threshold = float(params.get("x_threshold", 2.4))
    half_pole = float(params.get("length", 0.5))
    width, height = 600, 400
    scale = width / (4 * x_threshold)
    cart_w, cart_h, track_y = 50.0, 30.0, 100.0
    pole_len, pole_w = 2 * half_pole * scale, 10.0

    def draw(obs):
        x, theta = float(obs[0]), float(obs[2])
        c = Canvas(width, height)
        c.line((0, track_y), (width, track_y), 2, (0, 0, 0))
        for edge in (-x_threshold, x_threshold):  # where the episode ends
            ex = width / 2 + edge * scale
            c.line((ex, track_y - 10), (ex, track_y + 10), 2, (180, 60, 60))
        cx = width / 2 + x * scale
        c.polygon([(cx - cart_w / 2, track_y), (cx + cart_w / 2, track_y),
                   (cx + cart_w / 2, track_y + cart_h), (cx - cart_w / 2, track_y + cart_h)], (40, 40, 40))
        axle = (cx, track_y + cart_h * 0.75)
        tip = (axle[0] + pole_len * math.sin(theta), axle[1] + pole_len * math.cos(theta))
        c.line(axle, tip, pole_w, (205, 150, 95), round_ends=True)
        c.circle(axle, pole_w / 2, (110, 120, 200))
        return c.image()

    return draw, 50


def _acrobot(params):
    l1 = float(params.get("link_length_1", 1.0))
    l2 = float(params.get("link_length_2", 1.0))
    size = 500
    bound = l1 + l2 + 0.2
    scale = size / (2 * bound)
    origin = (size / 2, size / 2)

    def point(x, y):
        return origin[0] + x * scale, origin[1] + y * scale

    def draw(obs):
        th1 = math.atan2(float(obs[1]), float(obs[0]))
        th2 = math.atan2(float(obs[3]), float(obs[2]))
        c = Canvas(size, size)
        goal = point(0, 1.0)[1]  # the tip must rise above this line: -cos(th1) - cos(th1 + th2) > 1
        c.line((0, goal), (size, goal), 2, (0, 0, 0))
        p1 = (l1 * math.sin(th1), -l1 * math.cos(th1))
        p2 = (p1[0] + l2 * math.sin(th1 + th2), p1[1] - l2 * math.cos(th1 + th2))
        for a, b in ((origin, point(*p1)), (point(*p1), point(*p2))):
            c.line(a, b, 0.2 * scale, (0, 150, 150), round_ends=True)
        for joint in (origin, point(*p1)):
            c.circle(joint, 0.1 * scale, (210, 190, 40))
        return c.image()

    return draw, 15


def _mountain_car(params, default_goal):
    lo = float(params.get("min_position", -1.2))
    hi = float(params.get("max_position", 0.6))
    goal = float(params.get("goal_position", default_goal))
    width, height = 600, 400
    scale = width / (hi - lo)
    car_w, car_h, clearance = 40.0, 20.0, 10.0

    def hill(x):
        return 0.45 * np.sin(3 * x) + 0.55

    scenery = Canvas(width, height)  # the hill and the flag, drawn once
    scenery.polyline([((x - lo) * scale, hill(x) * scale) for x in np.linspace(lo, hi, 120)], 3, (0, 0, 0))
    fx, fy = (goal - lo) * scale, float(hill(goal)) * scale
    scenery.line((fx, fy), (fx, fy + 50), 3, (0, 0, 0))
    scenery.polygon([(fx, fy + 50), (fx, fy + 36), (fx + 25, fy + 43)], (220, 190, 20))

    def draw(obs):
        pos = float(obs[0])
        c = scenery.copy()
        base = ((pos - lo) * scale, float(hill(pos)) * scale)
        angle = math.atan(1.35 * math.cos(3 * pos)) if math.isfinite(pos) else 0.0  # the slope dy/dx
        body = _rotate([(-car_w / 2, clearance), (car_w / 2, clearance), (car_w / 2, clearance + car_h),
                        (-car_w / 2, clearance + car_h)], angle, base)
        c.polygon(body, (60, 60, 60))
        for wx in (-car_w / 4, car_w / 4):
            c.circle(_rotate([(wx, clearance)], angle, base)[0], car_h / 2.5, (130, 130, 130))
        return c.image()

    return draw, 30


def _pendulum(params):
    size = 500
    scale = size / 4.4
    centre = (size / 2, size / 2)

    def draw(obs):
        theta = math.atan2(float(obs[1]), float(obs[0]))
        c = Canvas(size, size)
        tip = (centre[0] - scale * math.sin(theta), centre[1] + scale * math.cos(theta))
        c.line(centre, tip, 0.2 * scale, (200, 80, 80), round_ends=True)
        c.circle(centre, 0.05 * scale, (0, 0, 0))
        return c.image()

    return draw, 30


_RENDERERS = {
    "CartPole-v1": _cartpole,
    "Acrobot-v1": _acrobot,
    "MountainCar-v0": lambda p: _mountain_car(p, 0.5),
    "MountainCarContinuous-v0": lambda p: _mountain_car(p, 0.45),
    "Pendulum-v1": _pendulum,
}


def renderer(env_id: str, params: dict):
    """(draw, fps) for a real classic-control id, where draw(obs) returns
    uint8[height, width, 3]; None for a task that does not render."""
    make = _RENDERERS.get(env_id)
    return None if make is None else make(params)
