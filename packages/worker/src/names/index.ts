export { NameService, type NameServiceOptions } from './name-service.js';
export { NameRecords } from './records.js';
export { VipAllocator } from './vip-range.js';
