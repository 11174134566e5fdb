// Client quota entities and keys as Kafka has them (KIP-546, QuotaConfig): an entity is a set of
// (type, name) components, a null name being that type's default entity. Users and client ids
// combine (user, client-id, or both); an ip entity stands alone. The keys each kind of entity takes,
// and the number type Kafka gives each.

/** Kafka's ClientQuotaEntity types. */
export const QuotaEntityType = {
  USER: 'user',
  CLIENT_ID: 'client-id',
  IP: 'ip',
} as const;

export interface QuotaEntityComponent {
  readonly entityType: string;
  /** null: the default entity of this type (`<default>` in kafka-configs.sh). */
  readonly entityName: string | null;
}

/** Components in canonical order (user, client-id, ip), each type at most once. */
export type QuotaEntity = readonly QuotaEntityComponent[];

type QuotaValueType = 'long' | 'int' | 'double';

/** The quota keys of user and client-id entities, with Kafka's ConfigDef types. */
export const clientQuotaKeyTypes: ReadonlyMap<string, QuotaValueType> = new Map([
  ['producer_byte_rate', 'long'],
  ['consumer_byte_rate', 'long'],
  ['request_percentage', 'double'],
]);

/** The quota keys of ip entities. */
export const ipQuotaKeyTypes: ReadonlyMap<string, QuotaValueType> = new Map([
  ['connection_creation_rate', 'int'],
]);

const entityTypeOrder: readonly string[] = [
  QuotaEntityType.USER,
  QuotaEntityType.CLIENT_ID,
  QuotaEntityType.IP,
];

export function isQuotaEntityType(entityType: string): boolean {
  return entityTypeOrder.includes(entityType);
}

/** The entity with its components in canonical order. */
export function canonicalQuotaEntity(entity: QuotaEntity): QuotaEntity {
  return [...entity].sort(
    (a, b) => entityTypeOrder.indexOf(a.entityType) - entityTypeOrder.indexOf(b.entityType),
  );
}

/** One string per entity, whatever the order of its components: the image's map key. */
export function quotaEntityKey(entity: QuotaEntity): string {
  return JSON.stringify(canonicalQuotaEntity(entity).map((c) => [c.entityType, c.entityName]));
}

/** The name of one component type in the entity: undefined when absent, null for the default. */
export function quotaEntityName(entity: QuotaEntity, entityType: string): string | null | undefined {
  const component = entity.find((c) => c.entityType === entityType);
  return component === undefined ? undefined : component.entityName;
}

/** Why an entity is not one Kafka accepts, or null (an ip name is checked by the broker: pure code has no net). */
export function quotaEntityProblem(entity: QuotaEntity): string | null {
  if (entity.length === 0) return 'Invalid empty client quota entity';
  const seen = new Set<string>();
  for (const component of entity) {
    if (!isQuotaEntityType(component.entityType))
      return `Unhandled client quota entity type: ${component.entityType}`;
    if (seen.has(component.entityType)) return `Duplicate ${component.entityType} in client quota entity`;
    seen.add(component.entityType);
    if (component.entityName === '') return `Empty ${component.entityType} name in client quota entity`;
  }
  if (seen.has(QuotaEntityType.IP) && seen.size > 1)
    return 'Invalid quota entity combination, IP entity should not be combined with User or ClientId';
  return null;
}

/** Why `key = value` is not a quota this entity takes, or null. */
export function quotaValueProblem(entity: QuotaEntity, key: string, value: number): string | null {
  const isIp = entity.some((c) => c.entityType === QuotaEntityType.IP);
  const type = (isIp ? ipQuotaKeyTypes : clientQuotaKeyTypes).get(key);
  if (type === undefined) return `Invalid configuration key ${key}`;
  if (!Number.isFinite(value)) return `Quota value for ${key} must be a finite number`;
  if (value < 0) return `Quota value for ${key} must not be negative`;
  if (type === 'double') return null;
  if (!Number.isInteger(value)) return `Integral quota value for ${key} was not a whole number`;
  if (type === 'int' && value > 2 ** 31 - 1) return `Proposed value for ${key} is too large for an INT`;
  if (type === 'long' && value > Number.MAX_SAFE_INTEGER) return `Proposed value for ${key} is too large`;
  return null;
}

/**
 * Kafka's DescribeClientQuotas match types. SPECIFIED ("any specified name" in the message spec)
 * matches every entity that has the type, the default one too, as Kafka's KRaft brokers answer
 * (ClientQuotasImage) and as `kafka-configs.sh --describe --entity-type clients` lists them.
 */
export const QuotaMatchType = { EXACT: 0, DEFAULT: 1, SPECIFIED: 2 } as const;

export interface QuotaFilterComponent {
  readonly entityType: string;
  readonly matchType: number;
  /** The name for EXACT; null for DEFAULT and SPECIFIED. */
  readonly match: string | null;
}

/** Why a DescribeClientQuotas filter is not one Kafka accepts, or null. */
export function quotaFilterProblem(components: readonly QuotaFilterComponent[]): string | null {
  const seen = new Set<string>();
  for (const component of components) {
    if (!isQuotaEntityType(component.entityType))
      return `Custom entity type ${component.entityType} not supported`;
    if (seen.has(component.entityType)) return `Duplicate ${component.entityType} filter component`;
    seen.add(component.entityType);
    if (component.matchType === QuotaMatchType.EXACT) {
      if (component.match === null) return `Exact match of ${component.entityType} needs a name`;
    } else if (
      component.matchType === QuotaMatchType.DEFAULT ||
      component.matchType === QuotaMatchType.SPECIFIED
    ) {
      if (component.match !== null) return `Match type ${component.matchType} takes no name`;
    } else {
      return `Unknown match type ${component.matchType}`;
    }
  }
  if (seen.has(QuotaEntityType.IP) && seen.size > 1)
    return 'Invalid entity filter component combination, IP filter component should not be used with User or ClientId filter component';
  return null;
}

/**
 * Whether an entity matches a checked filter: every component matches one of the entity's, and with
 * `strict` the entity has no component the filter does not name (Kafka's ClientQuotaFilter).
 */
export function quotaFilterMatches(
  components: readonly QuotaFilterComponent[],
  strict: boolean,
  entity: QuotaEntity,
): boolean {
  if (strict && entity.length !== components.length) return false;
  return components.every((component) => {
    const name = quotaEntityName(entity, component.entityType);
    if (name === undefined) return false;
    if (component.matchType === QuotaMatchType.EXACT) return name === component.match;
    if (component.matchType === QuotaMatchType.DEFAULT) return name === null;
    return true;
  });
}
