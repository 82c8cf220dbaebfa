/**
 * Colours of the map, the error views and the heatmaps: two sequential scales whose lightness rises steadily from
 * one end to the other, so they read the same to colour-blind eyes and in grey (bits per weight: dark blue to
 * yellow; error and |w|: near-black purple through red to pale yellow), and a label colour readable on either.
 * The chart series take the theme's own chart colours (`--vscode-charts-*`), read when drawn.
 */
import { themeColor } from './dom.ts';

type Rgb = [number, number, number];

/** Bits per weight: few (dark blue) to many (yellow), through grey. Stops chosen here, evenly rising in lightness. */
const TYPE_STOPS: Rgb[] = [
  [0x10, 0x2a, 0x5c],
  [0x47, 0x55, 0x72],
  [0x7d, 0x7e, 0x7a],
  [0xb7, 0xab, 0x6e],
  [0xf5, 0xdf, 0x4d],
];

/** Error and magnitude: small (near-black purple) to large (pale yellow), through magenta, red and orange. */
const HEAT_STOPS: Rgb[] = [
  [0x12, 0x0b, 0x33],
  [0x5a, 0x16, 0x7e],
  [0xa5, 0x2c, 0x7a],
  [0xe3, 0x51, 0x5b],
  [0xfb, 0x9a, 0x5e],
  [0xfc, 0xf4, 0xb6],
];

function along(stops: Rgb[], t: number): Rgb {
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((k) => Math.round(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]))) as Rgb;
}

const css = ([r, g, b]: Rgb) => `rgb(${r}, ${g}, ${b})`;

/** A point of the error / magnitude scale, t from 0 (small) to 1 (large), as [r, g, b]. */
export function heatRgb(t: number): Rgb {
  return along(HEAT_STOPS, t);
}

/** Where a bits-per-weight figure sits on the type scale (log 1.5 to 32 bits). */
function typePosition(bits: number): number {
  return (Math.log2(bits) - Math.log2(1.5)) / (Math.log2(32) - Math.log2(1.5));
}

/** Colour of a type by its bits per weight; undefined for a type without a known size. */
export function typeColor(bits: number): string | undefined {
  return Number.isFinite(bits) ? css(along(TYPE_STOPS, typePosition(bits))) : undefined;
}

/** The range of the error scale: relative RMSE 1e-4 (and below, exact included) to 1, on a log scale. */
export const ERROR_SCALE = { from: 1e-4, to: 1 };

/** Where a relative RMSE sits on the error scale, 0 to 1. */
export function errorPosition(relRmse: number): number {
  if (!(relRmse > 0)) return 0;
  return Math.max(0, Math.min(1, Math.log10(relRmse / ERROR_SCALE.from) / Math.log10(ERROR_SCALE.to / ERROR_SCALE.from)));
}

/** Colour of an error (relative RMSE) on the error scale. */
export function errorColor(relRmse: number): string {
  return css(heatRgb(errorPosition(relRmse)));
}

/** A CSS gradient along a scale, left to right (the colour bars of the legends). */
export function heatGradient(): string {
  return `linear-gradient(to right, ${HEAT_STOPS.map(css).join(', ')})`;
}

/** WCAG 2 relative luminance of an `rgb(r, g, b)` colour; undefined for anything else. */
function luminance(colour: string): number | undefined {
  const m = /^rgb\((\d+), (\d+), (\d+)\)$/.exec(colour);
  if (!m) return undefined;
  const channel = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(Number(m[1])) + 0.7152 * channel(Number(m[2])) + 0.0722 * channel(Number(m[3]));
}

/** Black or white, whichever contrasts more with the cell's colour (at least 4.58:1 on any colour). */
export function labelColourOn(background: string): string {
  const l = luminance(background) ?? 0;
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000' : '#fff';
}

/** The theme's chart colours, read now (the theme may have changed since the last chart was drawn). */
export function chartColours() {
  return {
    text: themeColor('foreground', '#cccccc'),
    grid: themeColor('editorWidget-border', 'rgba(128,128,128,0.25)'),
    background: themeColor('editor-background', '#1e1e1e'),
    blue: themeColor('charts-blue', '#3794ff'),
    red: themeColor('charts-red', '#f14c4c'),
    yellow: themeColor('charts-yellow', '#cca700'),
    green: themeColor('charts-green', '#89d185'),
    purple: themeColor('charts-purple', '#b180d7'),
    foreground: themeColor('charts-foreground', themeColor('foreground', '#cccccc')),
  };
}
