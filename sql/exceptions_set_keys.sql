-- Name each exception of {table} that has no key yet: kind/resource/family/sku/month ('horizon' without a month).
UPDATE {table} SET exception_key = concat_ws('/', kind, coalesce(resource, ''), coalesce(family, ''), coalesce(sku, ''),
                                             coalesce(strftime(month, '%Y-%m'), 'horizon'))
WHERE exception_key IS NULL
