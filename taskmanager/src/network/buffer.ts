/** What travels through a channel: a batch of encoded records, or an in-band event. */
export type NetworkBuffer =
  | { readonly type: "DATA"; readonly data: Buffer; readonly records: number }
  | { readonly type: "END_OF_PARTITION" };

export const END_OF_PARTITION: NetworkBuffer = { type: "END_OF_PARTITION" };
