import { useEffect, useState } from 'preact/hooks';

/** The hash route: `#/`, `#/session/<id>`, `#/history`, `#/profile`. */
export function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const onChange = () => setRoute(parse());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const go = (path: string): void => {
  location.hash = `#/${path}`;
};
