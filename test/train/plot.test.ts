import { describe, expect, it } from 'vitest';
import { trainingCurveSvg, type TrainingHistory } from '../../lib/train/plot.js';

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A strict parser for the XML subset an SVG writer produces (elements, quoted attributes,
 * text, the five predefined entities and numeric references). Throws on anything ill-formed:
 * unbalanced or crossed tags, unquoted or duplicate attributes, a bare '&' or '<'.
 */
function parseXml(source: string): XmlElement {
  const checkText = (text: string, where: string) => {
    const withoutEntities = text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, '');
    if (/[&<]/.test(withoutEntities)) throw new Error(`bad character data ${JSON.stringify(text)} in ${where}`);
  };
  const tokens = source.trim().split(/(<[^>]*>)/).filter((t) => t !== '');
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  for (const token of tokens) {
    if (!token.startsWith('<')) {
      if (stack.length === 0) {
        if (token.trim() !== '') throw new Error(`text outside the root element: ${JSON.stringify(token)}`);
        continue;
      }
      checkText(token, `<${stack.at(-1)!.name}>`);
      stack.at(-1)!.text += token;
      continue;
    }
    const close = /^<\/([A-Za-z][\w:.-]*)\s*>$/.exec(token);
    if (close) {
      const open = stack.pop();
      if (open?.name !== close[1]) throw new Error(`</${close[1]}> closes <${open?.name}>`);
      continue;
    }
    const open = /^<([A-Za-z][\w:.-]*)((?:\s+[A-Za-z][\w:.-]*="[^"<]*")*)\s*(\/?)>$/.exec(token);
    if (!open) throw new Error(`malformed tag ${token}`);
    const element: XmlElement = { name: open[1]!, attributes: {}, children: [], text: '' };
    for (const [, key, value] of open[2]!.matchAll(/([A-Za-z][\w:.-]*)="([^"]*)"/g)) {
      if (key! in element.attributes) throw new Error(`duplicate attribute ${key} in ${token}`);
      checkText(value!, `attribute ${key}`);
      element.attributes[key!] = value!;
    }
    if (stack.length > 0) stack.at(-1)!.children.push(element);
    else if (root === null) root = element;
    else throw new Error('a second root element');
    if (open[3] !== '/') stack.push(element);
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  if (root === null) throw new Error('no root element');
  return root;
}

function descendants(element: XmlElement): XmlElement[] {
  return element.children.flatMap((child) => [child, ...descendants(child)]);
}

function seriesPaths(svg: string): XmlElement[] {
  return descendants(parseXml(svg)).filter((e) => e.name === 'path' && e.attributes['class'] === 'series');
}

function texts(svg: string): string[] {
  return descendants(parseXml(svg)).filter((e) => e.name === 'text').map((e) => e.text);
}

const tenEpochs: TrainingHistory = {
  epoch: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  series: {
    trainLoss: [2.1, 1.4, 1.0, 0.8, 0.66, 0.57, 0.5, 0.46, 0.42, 0.4],
    valLoss: [2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.83, 0.82, 0.82, 0.83],
    trainAcc: [0.3, 0.52, 0.64, 0.72, 0.77, 0.8, 0.83, 0.85, 0.86, 0.87],
    valAcc: [0.31, 0.5, 0.6, 0.68, 0.72, 0.74, 0.75, 0.755, 0.76, 0.76],
  },
};

describe('trainingCurveSvg', () => {
  it('(the XML checker used here rejects ill-formed documents)', () => {
    for (const bad of ['<a><b></a></b>', '<a x=1/>', '<a>x & y</a>', '<a x="1" x="2"/>', '<a>', '<a/><b/>']) {
      expect(() => parseXml(bad), bad).toThrow();
    }
  });

  it('is a well-formed SVG document with its title', () => {
    const svg = trainingCurveSvg(tenEpochs, { title: 'Fashion-MNIST CNN' });
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attributes['xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(texts(svg)).toContain('Fashion-MNIST CNN');
  });

  it('draws one path per series, train solid and validation dashed', () => {
    const paths = seriesPaths(trainingCurveSvg(tenEpochs));
    expect(paths.map((p) => p.attributes['data-series'])).toEqual(['trainLoss', 'valLoss', 'trainAcc', 'valAcc']);
    expect(paths.map((p) => 'stroke-dasharray' in p.attributes)).toEqual([false, true, false, true]);
    for (const path of paths) expect(path.attributes['d']!.match(/[ML]/g)).toHaveLength(10);
  });

  it('puts loss and accuracy in separate panels with axis labels, ticks and a legend', () => {
    const svg = trainingCurveSvg(tenEpochs);
    const panels = descendants(parseXml(svg)).filter((e) => e.attributes['class'] === 'panel');
    expect(panels.map((p) => p.attributes['data-metric'])).toEqual(['loss', 'accuracy']);
    const labels = texts(svg);
    expect(labels.filter((t) => t === 'epoch')).toHaveLength(2);
    expect(labels).toEqual(expect.arrayContaining(['loss', 'accuracy', 'trainLoss', 'valLoss', 'trainAcc', 'valAcc']));
    expect(labels).toEqual(expect.arrayContaining(['0.5', '1.0', '2', '4', '10']));
  });

  it('handles a single epoch: a marker per series, one centred epoch tick', () => {
    const svg = trainingCurveSvg({ epoch: [1], series: { loss: [0.7], val_loss: [0.9] } });
    const paths = seriesPaths(svg);
    expect(paths).toHaveLength(2);
    expect(paths.every((p) => /^M[\d.]+,[\d.]+$/.test(p.attributes['d']!))).toBe(true);
    expect(descendants(parseXml(svg)).filter((e) => e.name === 'circle')).toHaveLength(2);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('leaves gaps at NaN and infinite values and still draws one path per series', () => {
    const svg = trainingCurveSvg({
      epoch: [0, 1, 2, 3, 4, 5],
      series: {
        'train/loss': [1, 0.8, NaN, 0.5, Infinity, 0.3],
        'val/loss': [NaN, NaN, NaN, NaN, NaN, NaN],
      },
    });
    expect(svg).not.toMatch(/NaN|Infinity/);
    const [train, val] = seriesPaths(svg);
    // Runs: [1, 0.8], [0.5], [0.3] → three moves, one line.
    expect(train!.attributes['d']!.match(/M/g)).toHaveLength(3);
    expect(train!.attributes['d']!.match(/L/g)).toHaveLength(1);
    expect(val!.attributes['d']).toBe('');
  });

  it('escapes markup in the title and series names', () => {
    const svg = trainingCurveSvg({ epoch: [1, 2], series: { 'val <&> "x"': [1, 2] } }, { title: 'a < b & c' });
    expect(texts(svg)).toContain('a &lt; b &amp; c');
    expect(seriesPaths(svg)[0]!.attributes['data-series']).toBe('val &lt;&amp;&gt; &quot;x&quot;');
  });

  it('refuses a series whose length differs from the epochs, naming it', () => {
    expect(() => trainingCurveSvg({ epoch: [1, 2, 3], series: { valAcc: [0.5, 0.6] } })).toThrow(
      /series 'valAcc' has 2 values for 3 epochs/,
    );
    expect(() => trainingCurveSvg({ epoch: [], series: {} })).toThrow(/epoch is empty/);
  });
});
