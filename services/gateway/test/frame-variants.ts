import { ClientFrame } from '@pulse/contracts';

type JsonType = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';
const JSON_TYPES: readonly JsonType[] = ['null', 'boolean', 'number', 'string', 'array', 'object'];
const A_VALUE_OF: Record<JsonType, unknown> = {
  null: null,
  boolean: true,
  number: 7,
  string: 'x',
  array: [],
  object: {},
};

interface FieldSchema {
  _def: { typeName: string; value?: unknown; values?: readonly unknown[] };
  minValue?: number | null;
}

/** The JSON type a field of a client frame takes; a kind of field this does not know fails the test. */
function jsonTypeOf(field: FieldSchema): JsonType {
  switch (field._def.typeName) {
    case 'ZodNumber':
      return 'number';
    case 'ZodString':
    case 'ZodEnum':
      return 'string';
    case 'ZodBoolean':
      return 'boolean';
    case 'ZodLiteral':
      return typeof field._def.value as JsonType;
    default:
      throw new Error(`hostile-wire.ts knows no JSON type for ${field._def.typeName}: teach it`);
  }
}

/** A value the field accepts: the smallest number, the first enum value, the literal. */
function validValueOf(field: FieldSchema): unknown {
  switch (field._def.typeName) {
    case 'ZodNumber':
      return field.minValue ?? 0;
    case 'ZodEnum':
      return field._def.values![0];
    case 'ZodLiteral':
      return field._def.value;
    default:
      return A_VALUE_OF[jsonTypeOf(field)];
  }
}

export interface FrameShape {
  type: string;
  /** Every field of the frame (`type` included) with its JSON type. */
  fields: Array<{ name: string; jsonType: JsonType }>;
  /** A frame of this type the contract accepts. */
  valid: Record<string, unknown>;
}

/** Every client frame type of the contract, read from `ClientFrame`: a new type or field is covered by itself. */
export function clientFrameShapes(): FrameShape[] {
  return ClientFrame.options.map((option) => {
    const shape = option.shape as Record<string, FieldSchema>;
    const fields = Object.entries(shape).map(([name, field]) => ({ name, jsonType: jsonTypeOf(field) }));
    const valid = Object.fromEntries(Object.entries(shape).map(([name, f]) => [name, validValueOf(f)]));
    return { type: String(valid.type), fields, valid };
  });
}

export interface HostileFrame {
  /** What is wrong, for the failure message. */
  what: string;
  text: string;
  /** The field the error message must name (`<field>: ...`), or null for a frame-level refusal. */
  names: string | null;
}

/** Strings no field accepts: a NUL, lone UTF-16 surrogates (JSON `\u` escapes: the text itself is valid UTF-8). */
const HOSTILE_STRINGS = ['\u0000', '\ud800', '\udfff', 'x\udc00y', '\ud800\ud800'];

/**
 * The hostile variants of one frame type: each field with every other JSON type, missing, and with NULs and
 * lone surrogates in strings (alone and appended to a valid value); an extra field, a NUL as a key.
 */
export function hostileVariants(shape: FrameShape): HostileFrame[] {
  const out: HostileFrame[] = [];
  const withField = (name: string, value: unknown) => JSON.stringify({ ...shape.valid, [name]: value });
  for (const { name, jsonType } of shape.fields) {
    for (const wrong of JSON_TYPES.filter((t) => t !== jsonType)) {
      out.push({ what: `${name} as ${wrong}`, text: withField(name, A_VALUE_OF[wrong]), names: name });
    }
    const { [name]: _dropped, ...rest } = shape.valid;
    out.push({ what: `${name} missing`, text: JSON.stringify(rest), names: name });
    if (jsonType !== 'string') continue;
    for (const s of HOSTILE_STRINGS) {
      out.push({ what: `${name} = ${JSON.stringify(s)}`, text: withField(name, s), names: name });
      const appended = `${String(shape.valid[name])}${s}`;
      out.push({
        what: `${name} = ${JSON.stringify(appended)}`,
        text: withField(name, appended),
        names: name,
      });
    }
  }
  out.push({ what: 'an extra field', text: JSON.stringify({ ...shape.valid, extra: 1 }), names: null });
  for (const s of HOSTILE_STRINGS) {
    out.push({
      what: `key ${JSON.stringify(s)}`,
      text: JSON.stringify({ ...shape.valid, [s]: 1 }),
      names: null,
    });
  }
  return out;
}

export const PING_TEXT = '{"type":"ping"}';
/** `{"type":"ping"}` padded with JSON whitespace to exactly `bytes` bytes. */
export const pingOf = (bytes: number) => `{"type":"ping"${' '.repeat(bytes - PING_TEXT.length)}}`;
