/** Attribute values; `undefined` and `false` leave the attribute out. */
export type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined;

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an HTML element. Text always goes in as text nodes, never as markup: actor ids and
 * paths come from the daemon and may contain `<`.
 *
 * @example
 * h('li', { 'data-actor-id': actor.id }, h('span', { 'data-state': 'idle' }, 'idle'));
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), attrs, children);
}

/** Creates an SVG element, with the same rules as `h`. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Looks up an element the page cannot work without, by its `data-testid`. */
export function byTestId<T extends Element = HTMLElement>(id: string, root: ParentNode = document): T {
  const found = root.querySelector<Element>(`[data-testid="${id}"]`);
  if (found === null) throw new Error(`the page is missing its ${id} element`);
  return found as T;
}

function fill<E extends Element>(element: E, attrs: Attrs, children: Child[]): E {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}
