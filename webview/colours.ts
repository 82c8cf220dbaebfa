/** Colours of the map and the error views: by bits per weight, by error, and a label colour readable on either. */

/** Colour of a type: hue from red (few bits) to green (many bits). */
export function typeColor(bits: number): string {
  if (!Number.isFinite(bits)) return 'var(--vscode-disabledForeground)';
  const t = Math.max(0, Math.min(1, (Math.log2(bits) - 0.5) / (Math.log2(32) - 0.5)));
  return `hsl(${Math.round(t * 130)}, 55%, 45%)`;
}

/** Colour of an error: relative RMSE on a log scale, green (1e-4) to red (1). */
export function errorColor(relRmse: number): string {
  if (!(relRmse > 0)) return 'hsl(130, 55%, 40%)';
  const t = Math.max(0, Math.min(1, (Math.log10(relRmse) + 4) / 4));
  return `hsl(${Math.round(130 * (1 - t))}, 60%, 42%)`;
}

/** Relative luminance (WCAG 2) of an `hsl(h, s%, l%)` colour; undefined for anything else (theme variables). */
function luminanceOfHsl(colour: string): number | undefined {
  const m = /^hsl\((\d+(?:\.\d+)?), (\d+(?:\.\d+)?)%, (\d+(?:\.\d+)?)%\)$/.exec(colour);
  if (!m) return undefined;
  const [hue, sat, light] = [Number(m[1]), Number(m[2]) / 100, Number(m[3]) / 100];
  const a = sat * Math.min(light, 1 - light);
  const channel = (n: number) => {
    const k = (n + hue / 30) % 12;
    const c = light - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    const c8 = Math.round(c * 255) / 255;
    return c8 <= 0.04045 ? c8 / 12.92 : ((c8 + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(8) + 0.0722 * channel(4);
}

/** Black or white, whichever contrasts more with the cell's colour; the theme's foreground on theme colours. */
export function labelColourOn(background: string): string {
  const l = luminanceOfHsl(background);
  if (l === undefined) return 'var(--vscode-editor-foreground)';
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000' : '#fff';
}
