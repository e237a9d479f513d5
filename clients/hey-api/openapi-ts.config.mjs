// @hey-api/openapi-ts configuration: a fetch SDK (one function per
// operationId), its TypeScript types and zod schemas, with every response of
// a 2xx status validated against the zod schema before the SDK returns it.
export default {
  input: '../../openapi.yaml',
  output: { path: 'gen' },
  plugins: [
    '@hey-api/client-fetch',
    '@hey-api/typescript',
    { name: '@hey-api/sdk', validator: true },
    // The plugin's default, z.iso.datetime() without offsets, refuses
    // RFC 3339 date-times such as Graph's own example request
    // "2019-07-12T14:30:34.2444915-07:00"; format: date-time allows offsets.
    { name: 'zod', dates: { offset: true } },
  ],
};
