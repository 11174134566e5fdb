// Figures and their presentation for the benchmarks: percentiles, a Markdown table, and a
// hand-written SVG bar chart (no libraries: it must open in any browser and on GitHub).

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** @param {string[]} header @param {string[][]} rows @param {('l'|'r')[]} align */
export function markdownTable(header, rows, align) {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column].length)),
  );
  const pad = (cell, column) =>
    align[column] === 'r' ? cell.padStart(widths[column]) : cell.padEnd(widths[column]);
  const line = (cells) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((width, column) => (align[column] === 'r' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const escapeXml = (text) =>
  String(text).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above `value`. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * @typedef {object} BarGroup
 * @property {string} label                       under the group
 * @property {(number | undefined)[]} values      one per series; undefined draws "n/a"
 */

/**
 * @typedef {object} Panel
 * @property {string} title
 * @property {string} unit                         axis label
 * @property {BarGroup[]} groups
 * @property {(value: number) => string} format    value labels on the bars
 */

/**
 * Vertical grouped bar panels stacked in one SVG, one shared legend of series.
 * @param {{ title: string, subtitle: string, series: { name: string, color: string }[], panels: Panel[] }} chart
 */
export function groupedBarChartSvg(chart) {
  const widthPx = 960;
  const panelHeightPx = 300;
  const marginLeftPx = 70;
  const marginRightPx = 20;
  const headerPx = 78;
  const panelGapPx = 70;
  const plotWidthPx = widthPx - marginLeftPx - marginRightPx;
  const heightPx = headerPx + chart.panels.length * (panelHeightPx + panelGapPx) + 10;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${widthPx / 2}" y="26" text-anchor="middle" font-size="19" font-weight="bold">${escapeXml(chart.title)}</text>`,
    `<text x="${widthPx / 2}" y="47" text-anchor="middle" font-size="12" fill="#555">${escapeXml(chart.subtitle)}</text>`,
  );
  // Legend.
  const legendItemPx = 110;
  let legendX = widthPx / 2 - (chart.series.length * legendItemPx) / 2;
  for (const series of chart.series) {
    out.push(
      `<rect x="${legendX}" y="58" width="14" height="14" fill="${series.color}"/>`,
      `<text x="${legendX + 20}" y="70" font-size="13">${escapeXml(series.name)}</text>`,
    );
    legendX += legendItemPx;
  }
  chart.panels.forEach((panel, panelIndex) => {
    const topPx = headerPx + panelIndex * (panelHeightPx + panelGapPx) + 24;
    const plotHeightPx = panelHeightPx - 40;
    const bottomPx = topPx + plotHeightPx;
    const maxValue = niceMax(
      Math.max(...panel.groups.flatMap((group) => group.values.filter((value) => value !== undefined))),
    );
    out.push(
      `<text x="${marginLeftPx}" y="${topPx - 10}" font-size="15" font-weight="bold">${escapeXml(panel.title)}</text>`,
    );
    // Grid and axis labels.
    const ticks = 5;
    for (let tick = 0; tick <= ticks; tick++) {
      const value = (maxValue * tick) / ticks;
      const y = bottomPx - (plotHeightPx * tick) / ticks;
      out.push(
        `<line x1="${marginLeftPx}" y1="${y}" x2="${widthPx - marginRightPx}" y2="${y}" stroke="${tick === 0 ? '#333' : '#e3e3e3'}"/>`,
        `<text x="${marginLeftPx - 6}" y="${y + 4}" text-anchor="end" font-size="11" fill="#444">${escapeXml(Number(value.toPrecision(3)))}</text>`,
      );
    }
    out.push(
      `<text transform="translate(18 ${topPx + plotHeightPx / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#333">${escapeXml(panel.unit)}</text>`,
    );
    const groupWidthPx = plotWidthPx / panel.groups.length;
    const barWidthPx = Math.min(40, (groupWidthPx * 0.8) / chart.series.length);
    panel.groups.forEach((group, groupIndex) => {
      const groupLeftPx =
        marginLeftPx + groupIndex * groupWidthPx + (groupWidthPx - barWidthPx * chart.series.length) / 2;
      group.values.forEach((value, seriesIndex) => {
        const x = groupLeftPx + seriesIndex * barWidthPx;
        if (value === undefined) {
          out.push(
            `<text x="${x + barWidthPx / 2}" y="${bottomPx - 5}" text-anchor="middle" font-size="10" fill="#888">n/a</text>`,
          );
          return;
        }
        const barHeightPx = (plotHeightPx * value) / maxValue;
        out.push(
          `<rect x="${x + 1}" y="${bottomPx - barHeightPx}" width="${barWidthPx - 2}" height="${barHeightPx}" fill="${chart.series[seriesIndex].color}"/>`,
          `<text x="${x + barWidthPx / 2}" y="${bottomPx - barHeightPx - 4}" text-anchor="middle" font-size="10" fill="#222">${escapeXml(panel.format(value))}</text>`,
        );
      });
      const [firstLine, secondLine] = group.label.split('\n');
      const centerPx = marginLeftPx + groupIndex * groupWidthPx + groupWidthPx / 2;
      out.push(
        `<text x="${centerPx}" y="${bottomPx + 16}" text-anchor="middle" font-size="12">${escapeXml(firstLine)}</text>`,
      );
      if (secondLine !== undefined)
        out.push(
          `<text x="${centerPx}" y="${bottomPx + 31}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(secondLine)}</text>`,
        );
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
