/**
 * The identity of a map key (MapState, broadcast state): strings as they are, other values by type
 * and JSON form, so `1` and `"1"` are different keys and `{ a: 1 }` finds an entry put with another
 * `{ a: 1 }`. Strings that start with NUL are escaped, so no string can collide with another type's
 * identity.
 */
export function mapKeyOf(key: unknown): string {
  switch (typeof key) {
    case "string":
      return key.charCodeAt(0) === 0 ? "\u0000s" + key : key;
    case "number":
      return "\u0000n" + String(key);
    case "bigint":
      return "\u0000b" + String(key);
    case "boolean":
      return key ? "\u0000t" : "\u0000f";
    case "undefined":
      return "\u0000u";
    default:
      return "\u0000j" + JSON.stringify(key);
  }
}
