"""django-import-export resource of customer lists: headers, values, deduplication, history.

Fast by design (100,000 rows at well over 10,000 rows/s): bulk writes, no diff, no per-row
queries. Existing customers (by QQ, phone or WeChat id) and staff users are read up front in a few queries;
every row is then checked in Python. New customers are written into the public pool; those with a
consultant are then given to them by ``customers_import_assign``, the claim's own locked cap check.
"""

import csv
import datetime
import io
import itertools
import json
import re
import zlib
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter, itemgetter

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import JSONField, Q, Value
from django.db.models.base import ModelState
from django.db.models.functions import Cast, Lower
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import resources
from import_export.fields import Field as ExportField

from crm.contacts import MASKS, canonical_phone, canonical_qq, canonical_wechat
from crm.formats import local_datetime
from crm.models import Campus, ClassType, Course, Customer, CustomerImport, UserProfile
from crm.models.customer import mobile_validator, qq_validator
from crm.resources.streaming import ChoiceLabels, NamesById, is_formula_like
from crm.services.customers import customers_import_assign, customers_owner_error

# The columns an import understands, in the order of the template file.
IMPORT_FIELDS = [
    "name",
    "qq",
    "qq_name",
    "sex",
    "birthday",
    "phone",
    "wechat",
    "source",
    "course",
    "class_type",
    "customer_note",
    "network_consult_note",
    "campus",
    "consultant",
]
# The contacts a customer is found by; a row needs at least one of them (the model's constraint).
CONTACT_FIELDS = ["qq", "phone", "wechat"]
REQUIRED_COLUMNS = ["name"]
# Fields an import may fill on an existing customer. Never the owner, never the campus (a pool is
# the boss's choice); a contact only when no other customer has it.
FILLABLE_FIELDS = [name for name in IMPORT_FIELDS if name not in ("consultant", "campus")]
# Headers people write besides the field names and the verbose names (Chinese and English); yudao's
# (ruoyi-vue-pro) CRM export writes 客户名称, 手机, 电话, QQ, 微信, 客户来源 and 备注.
EXTRA_HEADERS = {
    "name": ["客户姓名", "客户名称", "名字"],
    "qq": ["qq号", "qq号码"],
    "qq_name": ["昵称", "qq名称"],
    "phone": ["手机", "手机号", "手机号码", "联系电话", "mobile", "phone number"],
    "wechat": ["微信", "微信号", "wechat", "weixin"],
    "birthday": ["生日"],
    "source": ["客户来源", "来源渠道", "渠道"],
    "course": ["课程", "意向课程", "course"],
    "customer_note": ["备注", "note"],
    "campus": ["校区", "所属校区"],
    "consultant": ["consultant", "咨询师", "课程顾问", "销售顾问", "所属销售"],
}
# A second phone column (yudao's 电话 beside 手机): the phone when that is empty and this is a mobile
# number, otherwise a line of the customer note.
SECOND_PHONE = "second_phone"
SECOND_PHONE_HEADERS = ["电话", "座机", "telephone"]
# Columns we have no field for, kept as "label: value" lines of the customer note rather than lost.
NOTE_HEADERS = [
    "邮箱",
    "电子邮箱",
    "email",
    "地区",
    "详细地址",
    "地址",
    "所属行业",
    "行业",
    "客户等级",
    "级别",
]
NOTE_PREFIX = "note:"
# Source labels of other CRMs (yudao's dictionary crm_customer_source among them) -> our choice. Any
# other label is 其它, the label kept in the customer note.
SOURCE_SYNONYMS = {
    "qq": Customer.Source.QQ,
    "qq群": Customer.Source.QQ,
    "转介绍": Customer.Source.REFERRAL,
    "介绍": Customer.Source.REFERRAL,
    "老学员介绍": Customer.Source.REFERRAL,
    "官网": Customer.Source.WEBSITE,
    "网站": Customer.Source.WEBSITE,
    "线上注册": Customer.Source.WEBSITE,
    "百度": Customer.Source.BAIDU_ADS,
    "百度推广": Customer.Source.BAIDU_ADS,
    "搜索引擎": Customer.Source.BAIDU_ADS,
    "预约上门": Customer.Source.OFFICE_DIRECT,
    "上门": Customer.Source.OFFICE_DIRECT,
    "到访": Customer.Source.OFFICE_DIRECT,
    "口碑": Customer.Source.WORD_OF_MOUTH,
    "公开课": Customer.Source.PUBLIC_CLASS,
    "其他": Customer.Source.OTHERS,
}
COURSE_SEPARATORS = re.compile(r"[,，、;；/|\n]+")
DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d", "%m/%d/%Y"]


@dataclass
class Table:
    """Rows under their headers: what import_data needs of a tablib.Dataset (headers, len,
    iteration), without tablib's check of every row (about a second for 100,000 rows)."""

    headers: list[str]
    rows: list
    # Column name -> the header the file wrote, for the lines an import adds to the customer note.
    labels: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def normalize_header(header) -> str:
    text = "" if header is None else str(header)
    # Templates mark required columns with *; Excel sometimes leaves full-width or zero-width spaces.
    return re.sub(r"[\s\u3000\u200b*＊]+", "", text).lower()


def header_aliases() -> dict[str, str]:
    """Normalized header -> field name, from field names, verbose names and the usual variants."""
    aliases = {}
    for name in IMPORT_FIELDS:
        model_field = Customer._meta.get_field(name)
        names = [name, *EXTRA_HEADERS.get(name, [])]
        for language in ("zh-hans", "en"):
            with translation.override(language):
                names.append(str(model_field.verbose_name))
        for alias in names:
            aliases.setdefault(normalize_header(alias), name)
    return aliases


def choice_lookup(choices) -> dict[str, str]:
    """Code or label (Chinese or English, any case) -> stored code."""
    lookup = {}
    for code, label in choices:
        lookup[normalize_header(code)] = code
        for language in ("zh-hans", "en"):
            with translation.override(language):
                lookup.setdefault(normalize_header(label), code)
    return lookup


def query_chunk_size(per_query: int = 1) -> int:
    # Unlimited on PostgreSQL (one query); SQLite caps the parameters of one statement.
    limit = connection.features.max_query_params
    return max(limit // per_query - 10, 1) if limit else 10**9


def query_chunks(values: list) -> list[list]:
    size = query_chunk_size()
    return [values[start : start + size] for start in range(0, len(values), size)]


def cell_text(value) -> str:
    if value.__class__ is str:  # every cell of a CSV file, most of an xlsx one
        text = value.strip()
    elif value is None:
        return ""
    else:
        # xlsx gives numbers for QQ and phone cells typed as numbers: 123456.0 must read "123456".
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).strip()
    if text[:1] == "'" and is_formula_like(text[1:]):
        # The apostrophe that keeps formula-like text inert in our csv files (rejected rows).
        text = text[1:].strip()
    return text


QQ_PATTERN = re.compile(qq_validator.regex.pattern)
MOBILE_PATTERN = re.compile(mobile_validator.regex.pattern)


def phone_text(value) -> str:
    """A phone cell as stored (crm.contacts, as the form): "+86 138-0000-0001" is 13800000001."""
    text = cell_text(value)
    # ASCII digits without a country code are canonical already (the usual cell): nothing to fold.
    if text.isascii() and text.isdigit() and not text.startswith(("86", "0086")):
        return text
    return canonical_phone(text) or ""


def qq_text(value) -> str:
    text = cell_text(value)
    if text.isascii() and text.isdigit():  # canonical already
        return text
    return canonical_qq(text) or ""


def wechat_key(value) -> str:
    """A WeChat id as deduplication compares it: without regard to case, as the unique constraint."""
    return (canonical_wechat(cell_text(value)) or "").lower()


def contact_keys(values: dict) -> list[tuple[str, str]]:
    """(field, key) of each contact a row has: what finds its customer in the database and in the file."""
    keys = []
    for name in CONTACT_FIELDS:
        value = values.get(name)
        if value:
            keys.append((name, value.lower() if name == "wechat" else value))
    return keys


def check(validator, pattern: re.Pattern, text: str) -> None:
    # The model's own rule and message, without the validator's per-call overhead (lazy regex).
    if not pattern.search(text):
        raise ValidationError(validator.message, code=validator.code)


def cached(parse):
    """A parser that remembers its answers: a list has few distinct sexes, sources or courses."""
    answers = {}

    def parse_cached(value):
        try:
            return answers[value]
        except KeyError:
            answers[value] = answer = parse(value)
            return answer
        except TypeError:  # an unhashable cell
            return parse(value)

    return parse_cached


@dataclass(slots=True)
class ImportRow:
    """What the resource learnt about one row of the file (kept while its chunk is imported)."""

    line: int
    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    # contact_keys(values), once they are parsed.
    contacts: list = field(default_factory=list)
    blank: bool = False
    duplicate_of: int | None = None
    existing: bool = False
    filled: dict = field(default_factory=dict)
    note: str = ""
    instance: Customer | None = None
    owner: UserProfile | None = None


@dataclass
class Columns:
    """The file's columns an import reads: field names, their places in a row, the file's headers."""

    names: list[str]
    indexes: list[int]
    headers: dict[str, str]  # field name -> the header the file wrote
    ignored: list[str]

    def pick(self, row) -> tuple:
        return tuple(row[index] for index in self.indexes)

    @property
    def noted(self) -> list[str]:
        """The file's headers whose values go into the customer note."""
        return [
            label
            for name, label in self.headers.items()
            if name == SECOND_PHONE or name.startswith(NOTE_PREFIX)
        ]


class JSONText(Cast):
    """JSON already written as text, for a JSONField to store as it is (the database parses it)."""

    def __init__(self, text: str):
        super().__init__(Value(text), output_field=JSONField())


# Rows imported at a time: their existing customers are read in one query, their new ones written in
# one COPY; nothing of a chunk but its totals is kept after it.
CHUNK_ROWS = 5000
PROGRESS_EVERY = 1000
# Of a file with many bad or skipped rows, the first ones are kept (reasons and cells), the rest counted.
PROBLEMS_KEPT = 1000
SKIPPED_KEPT = 500


@dataclass
class ImportTotals:
    """What an import did, in totals: the rows of the file are not kept, only the first problems."""

    rows: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    error_count: int = 0
    # (line, reasons, the row's cells as the file has them), the first PROBLEMS_KEPT by line.
    problems: list = field(default_factory=list)
    # (line, note) of the first SKIPPED_KEPT skipped rows.
    skipped_rows: list = field(default_factory=list)
    # The history entry's two JSON columns (the new customers' ids, the fields filled), kept as JSON
    # text a chunk at a time: a million rows' ids and filled fields as lists and dicts took 100 MB.
    created_json: list[str] = field(default_factory=list)
    filled_json: list[str] = field(default_factory=list)
    database_error: str = ""

    def keep_written(self, created_ids: list[int], filled_fields: dict[str, dict]) -> None:
        if created_ids:
            self.created_json.append(",".join(map(str, created_ids)))
        if filled_fields:
            # JSONField's own encoding (json.dumps), without the braces, to be joined with the others.
            self.filled_json.append(json.dumps(filled_fields)[1:-1])

    @property
    def created_ids(self) -> JSONText:
        return JSONText("[" + ",".join(self.created_json) + "]")

    @property
    def filled_fields(self) -> JSONText:
        return JSONText("{" + ",".join(self.filled_json) + "}")

    def reject(self, line: int, reasons: list[str], row) -> None:
        self.error_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append((line, reasons, row))

    def skip(self, line: int, note: str) -> None:
        self.skipped += 1
        if note and len(self.skipped_rows) < SKIPPED_KEPT:
            self.skipped_rows.append((line, note))


def seen_key(name: str, value) -> str:
    """A contact (its field and key) or, with ``name`` "#", a customer's pk, as the duplicate check
    keeps it: one text key, the field's initial before the value."""
    return f"{name[0]}{value}"


class SeenContacts:
    """The contacts of the file's rows read so far, and the customers they found, each with the first
    line that had it (for "Same customer as row N of this file."), for the chunks still to come.

    Kept by the database, in a temporary table of the import's transaction, and looked up a chunk at a
    time: a million rows' contacts in Python dictionaries took 200 MB of the import's memory. A bitmap
    of the keys added (about 32 bits a row: 4 MB for a million rows) spares the lookup of those that
    were surely never added, nearly all of them; a bit set by another key only costs a lookup.
    """

    table = "crm_import_seen"

    def __init__(self, db, *, rows: int):
        self.db = db
        self.quoted = db.ops.quote_name(self.table)
        size = 1 << max(16, (rows * 32).bit_length())
        self.bitmap, self.mask = bytearray(size >> 3), size - 1
        self.chunk_bits: dict[str, tuple[int, int]] = {}

    def bits(self, keys) -> list[tuple[int, int]]:
        # crc32 rather than hash(): the same bits in every process, so the same queries.
        mask = self.mask
        return [((bit := zlib.crc32(key.encode()) & mask) >> 3, 1 << (bit & 7)) for key in keys]

    def create(self) -> None:
        # Compared byte by byte: the database's collation (zh_CN.UTF-8, C.UTF-8) calls strcoll for
        # every comparison of the index, and only equality is asked for.
        key = 'text COLLATE "C"' if self.db.vendor == "postgresql" else "text"
        with self.db.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.quoted}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.quoted} (key {key} PRIMARY KEY, line integer NOT NULL)"
            )

    def drop(self) -> None:
        with self.db.cursor() as cursor:
            cursor.execute(f"DROP TABLE {self.quoted}")

    def lines(self, keys: list[str]) -> dict[str, int]:
        """Those of ``keys`` that earlier chunks had, with their first line."""
        bitmap = self.bitmap
        # Kept for ``add``: the chunk's new keys are among these, each hashed once.
        self.chunk_bits = dict(zip(keys, self.bits(keys), strict=True))
        keys = [key for key, (byte, bit) in self.chunk_bits.items() if bitmap[byte] & bit]
        if not keys:
            return {}
        with self.db.cursor() as cursor:
            if self.db.vendor == "postgresql":
                cursor.execute(f"SELECT key, line FROM {self.quoted} WHERE key = ANY(%s::text[])", [keys])
                return dict(cursor.fetchall())
            found, size = {}, query_chunk_size()
            for start in range(0, len(keys), size):
                part = keys[start : start + size]
                placeholders = ", ".join(["%s"] * len(part))
                cursor.execute(f"SELECT key, line FROM {self.quoted} WHERE key IN ({placeholders})", part)
                found.update(cursor.fetchall())
            return found

    def add(self, lines: dict[str, int]) -> None:
        if not lines:
            return
        bitmap, known = self.bitmap, self.chunk_bits
        for key in lines:
            byte, bit = known.get(key) or self.bits([key])[0]
            bitmap[byte] |= bit
        with self.db.cursor() as cursor:
            if self.db.vendor == "postgresql":
                buffer = io.StringIO()
                csv.writer(buffer, lineterminator="\n").writerows(lines.items())
                buffer.seek(0)
                # psycopg2's own cursor, as in insert_postgresql.
                cursor.cursor.copy_expert(
                    f"COPY {self.quoted} (key, line) FROM STDIN WITH (FORMAT csv)", buffer
                )
            else:
                cursor.executemany(
                    f"INSERT INTO {self.quoted} (key, line) VALUES (%s, %s)", list(lines.items())
                )


class CustomerResource(resources.ModelResource):
    """Customer lists into the public pool (or to a named consultant), all-or-nothing."""

    class Meta:
        model = Customer
        fields = IMPORT_FIELDS
        import_order = IMPORT_FIELDS
        export_order = IMPORT_FIELDS
        # No import id field: a customer is found by any of its contacts (get_or_init_instance),
        # and a file needs only one of their columns. Speed: bulk writes, no per-row lookup of
        # instances (deduplication reads everything up front), no diff of each row, no full_clean
        # (which would query uniqueness per row).
        use_bulk = True
        batch_size = 1000
        force_init_instance = True
        skip_diff = True
        clean_model_instances = False
        use_transactions = True
        report_skipped = True

    def __init__(self, *, user=None, file_name: str = "", progress=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        self.file_name = file_name
        self.progress = progress
        self.customer_import = None

    # --- the file's columns ---

    @classmethod
    def get_display_name(cls):
        return gettext_lazy("Customers")

    @staticmethod
    def prepare_columns(file_headers: list[str]) -> "Columns":
        """Which of the file's columns are read, under which field name.

        Columns we have no field for but that say something about the customer (邮箱, 地区 …) are
        kept, as lines of the customer note. A file without a name column or without any of the QQ,
        phone and WeChat columns raises ValidationError.
        """
        aliases = header_aliases()
        for alias in SECOND_PHONE_HEADERS:
            aliases.setdefault(normalize_header(alias), SECOND_PHONE)
        for alias in NOTE_HEADERS:
            aliases.setdefault(normalize_header(alias), NOTE_PREFIX + normalize_header(alias))
        columns, ignored = {}, []
        for index, header in enumerate(file_headers or []):
            name = aliases.get(normalize_header(header))
            if name is None or name in columns:
                if normalize_header(header):
                    ignored.append(str(header))
                continue
            columns[name] = index
        if SECOND_PHONE in columns and "phone" not in columns:
            columns["phone"] = columns.pop(SECOND_PHONE)  # a file's only phone column, whatever its name
        missing = [
            str(Customer._meta.get_field(name).verbose_name)
            for name in REQUIRED_COLUMNS
            if name not in columns
        ]
        if not any(name in columns for name in CONTACT_FIELDS):
            missing.append(
                " / ".join(str(Customer._meta.get_field(name).verbose_name) for name in CONTACT_FIELDS)
            )
        if missing:
            labels = "、".join(missing)
            raise ValidationError(
                _("The file has no %(columns)s column. Use the template: the first row must be the headers.")
                % {"columns": labels},
                code="missing_columns",
            )
        return Columns(
            names=list(columns),
            indexes=list(columns.values()),
            headers={name: str(file_headers[index]) for name, index in columns.items()},
            ignored=ignored,
        )

    def prepare_dataset(self, dataset: Table) -> Table:
        """The dataset of the recognized columns, under their field names (a small file at once)."""
        columns = self.prepare_columns(dataset.headers)
        return Table(
            headers=columns.names, rows=[list(columns.pick(row)) for row in dataset], labels=columns.headers
        )

    @staticmethod
    def template_headers() -> list[tuple[str, bool]]:
        """(header, required) of each column, in the language of the request."""
        return [
            (str(Customer._meta.get_field(name).verbose_name), name in REQUIRED_COLUMNS)
            for name in IMPORT_FIELDS
        ]

    def get_export_headers(self, selected_fields=None):
        return [str(Customer._meta.get_field(name).verbose_name) for name in IMPORT_FIELDS]

    # --- up front: one query for the existing customers, one for staff, one for their counts ---

    def before_import(self, dataset, **kwargs):
        self.begin(dataset.headers, dataset.labels)

    def begin(self, headers: list[str], labels: dict[str, str]) -> None:
        """Before the first row: the parsers, the staff and campuses (one query each)."""
        self.parsers = {
            "name": cell_text,
            "qq": self.parse_qq,
            "qq_name": cell_text,
            "sex": self.parse_choice(Customer.Sex.choices),
            "birthday": self.parse_date,
            "phone": self.parse_phone,
            "wechat": self.parse_wechat,
            "source": self.parse_source(),
            "course": cached(self.parse_courses),
            "class_type": self.parse_choice(ClassType.choices),
            "customer_note": cell_text,
            "network_consult_note": cell_text,
            "campus": self.parse_campus,
            "consultant": cell_text,
        }
        self.columns = [name for name in IMPORT_FIELDS if name in headers]
        self.column_parsers = [(name, self.parsers[name]) for name in self.columns]
        self.labels = labels
        self.note_columns = [name for name in headers if name == SECOND_PHONE or name.startswith(NOTE_PREFIX)]
        self.contact_column = next((name for name in CONTACT_FIELDS if name in self.columns), None)
        self.course_lookup = choice_lookup(Course.choices)
        self.max_lengths = {
            name: Customer._meta.get_field(name).max_length
            for name in ("name", "qq_name")
            if name in self.columns
        }

        # seen_key (a contact, or an existing customer's pk) -> the first line of the file that has it,
        # for the keys of the chunk being imported (the earlier chunks' are in SeenContacts).
        self.seen: dict[str, int] = {}
        self.existing_by: dict[tuple[str, str], Customer] = {}
        if "consultant" in self.columns:
            self.load_consultants()
        if "campus" in self.columns:
            self.campuses = {campus.name.strip().lower(): campus for campus in Campus.objects.all()}
        self.new_customer = {key: value for key, value in Customer().__dict__.items() if key != "_state"}

    @staticmethod
    def existing_customers(qqs: set[str], phones: set[str], wechats: set[str]):
        """The customers that have one of these QQ numbers, phones or (lower-case) WeChat ids."""
        qqs, phones, wechats = sorted(qqs), sorted(phones), sorted(wechats)
        if connection.vendor == "postgresql":
            # Array parameters rather than 200,000 placeholders for the server to parse; lower(wechat)
            # is the expression of the unique index (crm_customer_unique_wechat), so it is used. Each
            # array is a sub-select the planner does not look into: given the 5,000 values of a chunk,
            # it expected as many customers and scanned the whole table (in parallel: both cores) where
            # the three unique indexes take 10 ms (98 ms at 900,000 customers; 23 s of a 1M import).
            table = connection.ops.quote_name(Customer._meta.db_table)
            # (A scalar sub-select cast to an array: ``ANY (SELECT …)`` alone would compare with its rows.)
            # Only the contacts the chunk has: a file without WeChat ids asks nothing of that column,
            # whose indexes hold the customers that have one (an arm for it could be planned as a
            # scan of all of them).
            values = "(SELECT %s::varchar[])::varchar[]"
            arms = [
                (condition, found)
                for condition, found in [
                    (f"qq = ANY({values})", qqs),
                    (f"phone = ANY({values})", phones),
                    (f"lower(wechat) = ANY({values})", wechats),
                ]
                if found
            ]
            if arms:
                yield from Customer.objects.raw(
                    f"SELECT * FROM {table} WHERE {' OR '.join(condition for condition, _found in arms)}",
                    [found for _condition, found in arms],
                )
            return
        size = max(len(qqs), len(phones), len(wechats), 1)
        chunk = min(size, query_chunk_size(per_query=3))
        customers = Customer.objects.annotate(wechat_key=Lower("wechat"))
        for start in range(0, size, chunk):
            part = slice(start, start + chunk)
            condition = Q(qq__in=qqs[part]) | Q(phone__in=phones[part]) | Q(wechat_key__in=wechats[part])
            yield from customers.filter(condition)

    def load_existing(self, states: list[ImportRow]) -> list[str]:
        """The customers of the database that share a contact with the parsed rows of a chunk (one
        query); returns the seen_key of every contact of the chunk and of every customer they found."""
        found = {name: set() for name in CONTACT_FIELDS}
        for state in states:
            for name, value in state.contacts:
                found[name].add(value)
        # (contact field, key) -> the customer in the database.
        self.existing_by = existing_by = {}
        for customer in self.existing_customers(found["qq"], found["phone"], found["wechat"]):
            for key in contact_keys({name: getattr(customer, name) for name in CONTACT_FIELDS}):
                existing_by[key] = customer
        keys = [seen_key(name, value) for name, values in found.items() for value in values]
        keys += {seen_key("#", customer.pk) for customer in existing_by.values()}
        return keys

    def load_consultants(self):
        staff = get_user_model().objects.filter(is_staff=True, is_active=True).only("id", "username", "name")
        self.staff_by_username, self.staff_by_name = {}, {}
        for user in staff:
            self.staff_by_username[user.username.lower()] = user
            if user.name.strip():
                self.staff_by_name.setdefault(user.name.strip().lower(), []).append(user)
        # Who may own customers, to say so on the row; customers_import_assign checks it again.
        self.sales_staff = set(UserProfile.objects.sales_staff().values_list("pk", flat=True))

    # --- each row: parse, find the customer it is, fill ---

    def parse_qq(self, value):
        text = qq_text(value)
        if text:
            check(qq_validator, QQ_PATTERN, text)
        return text or None

    def parse_phone(self, value):
        text = phone_text(value)
        if text:
            check(mobile_validator, MOBILE_PATTERN, text)
        return text or None

    def parse_wechat(self, value):
        text = canonical_wechat(cell_text(value))
        limit = Customer._meta.get_field("wechat").max_length
        if text and len(text) > limit:
            raise ValidationError(
                _("At most %(limit)d characters (it has %(count)d).") % {"limit": limit, "count": len(text)}
            )
        return text

    def parse_source(self):
        """A source label -> (our code, the label when it is not one of ours). A label we do not know is
        其它 (Others), and the label is kept in the customer note."""
        lookup = choice_lookup(Customer.Source.choices)
        for label, code in SOURCE_SYNONYMS.items():
            lookup.setdefault(normalize_header(label), code)

        def parse(value):
            text = cell_text(value)
            if not text:
                return "", None
            code = lookup.get(normalize_header(text))
            return (code, None) if code else (Customer.Source.OTHERS, text)

        return cached(parse)

    def parse_campus(self, value):
        text = cell_text(value)
        if not text:
            return None
        try:
            return self.campuses[text.lower()]
        except KeyError:
            raise ValidationError(_("No campus is called “%(name)s”.") % {"name": text}) from None

    def parse_choice(self, choices):
        lookup = choice_lookup(choices)
        labels = "、".join(str(label) for _code, label in choices)

        def parse(value):
            text = cell_text(value)
            if not text:
                return ""
            try:
                return lookup[normalize_header(text)]
            except KeyError:
                raise ValidationError(
                    _("“%(value)s” is not one of: %(choices)s.") % {"value": text, "choices": labels}
                ) from None

        return cached(parse)

    def parse_courses(self, value):
        codes = []
        for part in COURSE_SEPARATORS.split(cell_text(value)):
            if not part.strip():
                continue
            code = self.course_lookup.get(normalize_header(part))
            if code is None:
                labels = "、".join(str(label) for _code, label in Course.choices)
                raise ValidationError(
                    _("“%(value)s” is not one of: %(choices)s.") % {"value": part.strip(), "choices": labels}
                )
            if code not in codes:
                codes.append(code)
        return codes

    def parse_date(self, value):
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        text = cell_text(value)
        if not text:
            return None
        for date_format in DATE_FORMATS:
            try:
                return datetime.datetime.strptime(text, date_format).date()
            except ValueError:
                continue
        raise ValidationError(_("“%(value)s” is not a date such as 2001-09-30.") % {"value": text})

    def before_import_row(self, row, **kwargs):
        state = ImportRow(line=kwargs["row_number"] + 1)
        self.current = state
        notes, values = [], state.values
        for name, parse in self.column_parsers:
            try:
                values[name] = parse(row[name])
            except ValidationError as error:
                state.errors[name] = error.messages
        if "source" in state.values:
            state.values["source"], unknown_source = state.values["source"]
            if unknown_source:
                notes.append(f"{self.labels['source']}: {unknown_source}")
        for name in self.note_columns:
            text = cell_text(row[name])
            if not text:
                continue
            if name == SECOND_PHONE and not state.values.get("phone") and "phone" not in state.errors:
                phone = phone_text(text)
                if MOBILE_PATTERN.search(phone):
                    state.values["phone"] = phone
                    continue
            notes.append(f"{self.labels[name]}: {text}")
        if notes:
            state.values["customer_note"] = "\n".join(
                filter(None, [state.values.get("customer_note"), *notes])
            )
        for name, limit in self.max_lengths.items():
            if len(state.values.get(name, "")) > limit:
                state.errors[name] = [
                    _("At most %(limit)d characters (it has %(count)d).")
                    % {"limit": limit, "count": len(state.values[name])}
                ]
        state.contacts = contact_keys(state.values)
        if not state.contacts and not any(name in state.errors for name in CONTACT_FIELDS):
            # Only a row without a contact can be blank: the others need no look at every cell.
            if not any(cell_text(value) for value in row.values()):
                state.blank, state.values, state.errors = True, {}, {}
                return
            state.errors[self.contact_column] = [_("Enter at least one of QQ, phone and WeChat id.")]

    def init_instance(self, row=None):
        # Model.__init__ walks every field: for 100,000 rows, a copy of one new customer is far cheaper.
        # No public API makes a model instance without __init__: checked against Django 5.2 (a fresh
        # ModelState, the fields' defaults); tests/services/test_imports.py pins it.
        customer = Customer.__new__(Customer)
        customer.__dict__.update(self.new_customer)
        customer._state = ModelState()
        return customer

    def get_or_init_instance(self, instance_loader, row):
        state = self.current
        keys = state.contacts
        if not keys:
            return self.init_instance(row), True
        seen = self.seen
        contacts = [seen_key(name, value) for name, value in keys]
        state.duplicate_of = next(filter(None, map(seen.get, contacts)), None)
        if state.duplicate_of:
            return self.init_instance(row), True
        # By QQ, then phone, then WeChat id: the first contact that finds a customer.
        existing = next((self.existing_by[key] for key in keys if key in self.existing_by), None)
        if existing is not None:
            found = seen_key("#", existing.pk)
            state.duplicate_of = seen.get(found)
            seen.setdefault(found, state.line)
        for contact in contacts:
            seen.setdefault(contact, state.line)
        if existing is not None:
            state.existing = True
            return existing, False
        return self.init_instance(row), True

    def import_instance(self, instance, row, **kwargs):
        state = self.current
        if state.blank or state.duplicate_of:
            return
        if state.existing:
            self.fill_empty_fields(instance, state)
            return
        for name, value in state.values.items():
            # A blank source or class type keeps the model's default.
            if name != "consultant" and not (value == "" and name in ("source", "class_type")):
                setattr(instance, name, value)
        if state.values.get("consultant"):
            state.owner = self.consultant_for(state)

    def fill_empty_fields(self, instance, state):
        # An existing customer keeps what it has, and its owner: the file only fills the blanks.
        for name in FILLABLE_FIELDS:
            value = state.values.get(name)
            if name not in state.values or value in ("", None, []) or name in state.errors:
                continue
            if getattr(instance, name) not in ("", None, []):
                continue
            if name in CONTACT_FIELDS:
                (key,) = contact_keys({name: value})
                if (
                    self.existing_by.get(key, instance) != instance
                    or self.seen.get(seen_key(*key)) != state.line
                ):
                    continue  # that contact already belongs to another customer
            setattr(instance, name, value)
            state.filled[name] = value.isoformat() if isinstance(value, datetime.date) else value

    def consultant_for(self, state):
        """The staff user a consultant cell names (username, or real name when unique)."""
        written = state.values["consultant"]
        user = self.staff_by_username.get(written.lower())
        namesakes = self.staff_by_name.get(written.lower(), [])
        if user is None and len(namesakes) == 1:
            user = namesakes[0]
        if user is None:
            message = (
                _("Several staff users are called “%(name)s”: write the username.")
                if namesakes
                else _("No staff user is called “%(name)s”.")
            )
            state.errors["consultant"] = [message % {"name": written}]
            return None
        if user.pk not in self.sales_staff:
            state.errors["consultant"] = customers_owner_error(user).messages
            return None
        return user

    def skip_row(self, instance, original, row, import_validation_errors=None):
        state = self.current
        if state.blank:
            state.note = _("Empty row.")
            return True
        if state.duplicate_of:
            state.note = _("Same customer as row %(line)d of this file.") % {"line": state.duplicate_of}
            return True
        if state.errors:
            return False
        if state.existing and not state.filled:
            state.note = _("Already in the system as %(customer)s; nothing to fill.") % {"customer": instance}
            return True
        return False

    def get_bulk_update_fields(self):
        return FILLABLE_FIELDS

    def import_data(self, *args, **kwargs):
        # One way in: import_rows, through crm.services.imports.customers_import (the admin, the
        # command and the jobs). django-import-export's own loop would skip the rules of finish().
        raise NotImplementedError("Import customer lists with crm.services.imports.customers_import.")

    # --- the import: the file's rows a chunk at a time ---

    def import_rows(self, rows, columns: Columns, *, total: int, dry_run: bool) -> ImportTotals:
        """Import the file's ``rows`` (tuples as the file has them) in chunks of CHUNK_ROWS: for each
        chunk, its rows are parsed, one query finds its existing customers and one the earlier rows
        that had its contacts (SeenContacts), every row is checked by the hooks below, and its new and
        updated customers are written. Run it in a transaction, rolled back when the totals have
        errors or ``dry_run`` (which writes nothing, so the rollback is cheap).

        Not django-import-export's ``import_data``: it builds a dict, a RowResult (with the
        instance's ``str``) and keeps them for every row, 600 MB for 200,000 rows; here nothing of a
        chunk but its totals and first problems outlives it. The rules are the same hooks.
        """
        self.begin(columns.names, columns.headers)
        self.file_headers = columns.headers
        # Owner pk -> (owner, first line, its cells, the new customers given to them).
        self.owned: dict[int, tuple] = {}
        totals = ImportTotals()
        names, pick, number = columns.names, columns.pick, 0
        seen = SeenContacts(connections[self.get_db_connection_name()], rows=total)
        seen.create()
        rows = iter(rows)
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            states = []
            for raw in chunk:
                number += 1
                self.before_import_row(dict(zip(names, pick(raw), strict=True)), row_number=number)
                states.append(self.current)
            earlier = seen.lines(self.load_existing(states))
            self.seen = dict(earlier)
            pending = []
            for raw, state in zip(chunk, states, strict=True):
                self.import_parsed(state)
                if state.note:
                    totals.skip(state.line, state.note)
                elif state.errors:
                    totals.reject(state.line, self.reasons(state.errors), raw)
                else:
                    pending.append((state, raw))
                if self.progress and (state.line - 1) % PROGRESS_EVERY == 0:
                    self.progress(state.line - 1, total)
            seen.add({key: line for key, line in self.seen.items() if key not in earlier})
            self.write(pending, totals, dry_run=dry_run)
        seen.drop()
        totals.rows = number
        if self.progress:
            self.progress(number, number)
        self.finish(totals, dry_run=dry_run)
        totals.problems.sort(key=itemgetter(0))
        return totals

    def import_parsed(self, state: ImportRow) -> None:
        """A parsed row (``before_import_row``) through the rest of the rules: find the customer it is,
        fill or make it."""
        self.current = state
        instance, _new = self.get_or_init_instance(None, None)
        self.import_instance(instance, None)
        if not self.skip_row(instance, None, None) and not state.errors:
            state.instance = instance

    def reasons(self, errors: dict) -> list[str]:
        """A row's errors, in the order of the file's columns, each after its header."""
        return [
            f"{header}: {message}"
            for name, header in self.file_headers.items()
            for message in errors.get(name, [])
        ]

    def write(self, pending: list[tuple[ImportRow, tuple]], totals: ImportTotals, *, dry_run: bool) -> None:
        """Count and write a chunk's new and updated customers; keep what the end of the import needs
        (the new customers' ids, the fields filled, who gets which new customers)."""
        created = [state.instance for state, _raw in pending if not state.existing]
        updated = [state.instance for state, _raw in pending if state.existing]
        totals.new += len(created)
        totals.updated += len(updated)
        # Once a row is wrong nothing will be kept: the rest of the file is only checked.
        if not dry_run and not totals.error_count and not totals.database_error:
            db = connections[self.get_db_connection_name()]
            if db.vendor == "postgresql":
                self.write_batch(created, partial(self.insert_postgresql, db), totals)
            else:
                bulk_create = Customer.objects.using(db.alias).bulk_create
                self.write_batch(created, partial(bulk_create, batch_size=self._meta.batch_size), totals)
            self.write_batch(updated, partial(self.update_rows, db), totals)
            totals.keep_written(
                [customer.pk for customer in created],
                {str(state.instance.pk): state.filled for state, _raw in pending if state.existing},
            )
        for state, raw in pending:
            if state.owner is not None and not state.existing:
                owner = self.owned.setdefault(state.owner.pk, (state.owner, state.line, raw, []))
                owner[3].append(state.instance)

    def write_batch(self, customers: list, write, totals: ImportTotals) -> None:
        """write(customers) in a savepoint of its own: a batch the database refuses (a QQ that someone
        inserted meanwhile) becomes one error of the import, which is then rolled back whole."""
        if not customers or totals.database_error:
            return
        db = connections[self.get_db_connection_name()]
        try:
            with transaction.atomic(using=db.alias):
                write(customers)
        # The driver's own error too: COPY goes through psycopg2's cursor, which Django does not wrap.
        except (DatabaseError, db.Database.Error) as error:
            totals.database_error = str(error)
            totals.error_count += 1
            totals.problems.append(
                (0, [_("The database refused the import: %(error)s") % {"error": error}], None)
            )

    @staticmethod
    def insert_postgresql(db, customers) -> None:
        """COPY the new customers in, with ids drawn from the table's sequence first.

        Django's bulk_create prepares every value of every row through the SQL compiler (two
        thirds of the time of an import), and INSERT … VALUES makes PostgreSQL parse every value
        as SQL. Here the csv module writes the rows in C: an empty cell is NULL in the nullable
        columns and an empty string in the others (FORCE_NOT_NULL).
        """
        fields = list(Customer._meta.concrete_fields)
        table, pk = Customer._meta.db_table, Customer._meta.pk.column
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, len(customers)],
            )
            for customer, (customer_id,) in zip(customers, cursor.fetchall(), strict=True):
                customer.pk = customer_id
                customer._state.adding = False
                customer._state.db = db.alias
            course = fields.index(Customer._meta.get_field("course"))
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            for row in map(attrgetter(*(field.attname for field in fields)), customers):
                if row[course]:  # the list of courses is stored comma-separated
                    row = (*row[:course], ",".join(row[course]), *row[course + 1 :])
                writer.writerow(row)
            buffer.seek(0)
            quote = db.ops.quote_name
            columns = ", ".join(quote(field.column) for field in fields)
            not_null = ", ".join(quote(field.column) for field in fields if not field.null)
            # psycopg2's own cursor behind Django's wrapper (``.cursor``, checked against Django 5.2): COPY
            # has no Django API. Every PostgreSQL import test goes through it.
            cursor.cursor.copy_expert(
                f"COPY {quote(table)} ({columns}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({not_null}))",
                buffer,
            )

    def update_rows(self, db, customers) -> None:
        """Write the fillable fields of existing customers.

        Django's bulk_update builds a CASE WHEN per row and field: 2,000 rows took 10 s. Here one
        UPDATE … FROM (VALUES …) per 1,000 rows on PostgreSQL, one prepared UPDATE per row on SQLite.
        """
        fields = [Customer._meta.get_field(name) for name in self.get_bulk_update_fields()]
        params = [
            [customer.pk] + [field.get_db_prep_save(getattr(customer, field.attname), db) for field in fields]
            for customer in customers
        ]
        quote = db.ops.quote_name
        table, pk = quote(Customer._meta.db_table), quote(Customer._meta.pk.column)
        with db.cursor() as cursor:
            if db.vendor == "postgresql":
                from psycopg2.extras import execute_values

                columns = [quote(field.column) for field in fields]
                sql = "UPDATE {} SET {} FROM (VALUES %s) AS v({}, {}) WHERE {}.{} = v.{}".format(
                    table,
                    ", ".join(f"{column} = v.{column}" for column in columns),
                    pk,
                    ", ".join(columns),
                    table,
                    pk,
                    pk,
                )
                types = [Customer._meta.pk.db_type(db)] + [field.db_type(db) for field in fields]
                template = "({})".format(", ".join(f"%s::{kind}" for kind in types))
                execute_values(cursor.cursor, sql, params, template=template, page_size=1000)
            else:
                assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
                sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"
                cursor.executemany(sql, [row[1:] + row[:1] for row in params])

    def finish(self, totals: ImportTotals, *, dry_run: bool) -> None:
        """After the last row: the new customers to their consultants, then the history entry, in the
        same transaction."""
        failed = bool(totals.error_count)
        self.assign_owners(totals, check_only=dry_run or failed)
        if dry_run or totals.error_count:
            return
        entry = CustomerImport.objects.create(
            user=self.user,
            file_name=self.file_name[:255],
            new_count=totals.new,
            updated_count=totals.updated,
            skipped_count=totals.skipped,
            created_ids=totals.created_ids,
            filled_fields=totals.filled_fields,
        )
        # Not the JSON columns again as Python objects (a million ids are 36 MB): read when asked for.
        self.customer_import = CustomerImport.objects.defer("created_ids", "filled_fields").get(pk=entry.pk)

    def assign_owners(self, totals: ImportTotals, *, check_only: bool) -> None:
        """Give the new customers to the consultants the file names, through the claim's locked cap
        check, in the import's transaction; a consultant it refuses is an error of their first row."""
        # In the order of the owners' ids: two imports locking the same owners never deadlock.
        for _owner_id, (owner, line, raw, customers) in sorted(self.owned.items(), key=itemgetter(0)):
            try:
                customers_import_assign(owner=owner, customers=customers, by=self.user, dry_run=check_only)
            except ValidationError as error:
                totals.reject(line, self.reasons({"consultant": error.messages}), raw)


# The columns of the customer export, in their order.
CUSTOMER_EXPORT_COLUMNS = (
    "name",
    "qq",
    "qq_name",
    "phone",
    "wechat",
    "sex",
    "source",
    "status",
    "course",
    "consultant",
    "campus",
    "last_consult_date",
    "next_date",
    "date",
)


class CustomerExportResource(resources.Resource):
    """The export of 全部客户: the columns of the list, as people read them, dates as real dates.

    A contact is masked exactly as the list masks it (``contacts_visible``, annotated by the admin's
    queryset: crm.contacts); a queryset without the annotation exports every contact masked.
    """

    columns = CUSTOMER_EXPORT_COLUMNS

    name = ExportField(column_name=Customer._meta.get_field("name").verbose_name)
    qq = ExportField(column_name=Customer._meta.get_field("qq").verbose_name)
    qq_name = ExportField(attribute="qq_name", column_name=Customer._meta.get_field("qq_name").verbose_name)
    phone = ExportField(column_name=Customer._meta.get_field("phone").verbose_name)
    wechat = ExportField(column_name=Customer._meta.get_field("wechat").verbose_name)
    sex = ExportField(column_name=Customer._meta.get_field("sex").verbose_name)
    source = ExportField(column_name=Customer._meta.get_field("source").verbose_name)
    status = ExportField(column_name=Customer._meta.get_field("status").verbose_name)
    course = ExportField(column_name=Customer._meta.get_field("course").verbose_name)
    consultant = ExportField(column_name=Customer._meta.get_field("consultant").verbose_name)
    campus = ExportField(column_name=Customer._meta.get_field("campus").verbose_name)
    last_consult_date = ExportField(column_name=Customer._meta.get_field("last_consult_date").verbose_name)
    next_date = ExportField(column_name=Customer._meta.get_field("next_date").verbose_name)
    date = ExportField(column_name=Customer._meta.get_field("date").verbose_name)

    class Meta:
        model = Customer
        export_order = CUSTOMER_EXPORT_COLUMNS

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Staff and campuses are few: their names are read once per export, not joined per row.
        self.consultant_name = NamesById(UserProfile.objects.only("username", "name"), bulk=Q(is_staff=True))
        self.campus_name = NamesById(Campus.objects.all())
        self.label = ChoiceLabels(Customer, course=Course)

    @classmethod
    def get_display_name(cls):
        return str(Customer._meta.verbose_name_plural)

    def filter_export(self, queryset, **kwargs):
        # The classes joined are not exported: no prefetch of them for every chunk of rows.
        return queryset.select_related(None).prefetch_related(None).only(*self.columns)

    def _contact(self, obj, field: str) -> str:
        value = getattr(obj, field)
        if getattr(obj, "contacts_visible", False):
            return value or ""
        return MASKS[field](value)

    def dehydrate_name(self, obj):
        return obj.name or obj.qq_name

    def dehydrate_qq(self, obj):
        return self._contact(obj, "qq")

    def dehydrate_phone(self, obj):
        return self._contact(obj, "phone")

    def dehydrate_wechat(self, obj):
        return self._contact(obj, "wechat")

    def dehydrate_sex(self, obj):
        return self.label("sex", obj.sex)

    def dehydrate_source(self, obj):
        return self.label("source", obj.source)

    def dehydrate_status(self, obj):
        return self.label("status", obj.status)

    def dehydrate_course(self, obj):
        courses = self.label.of("course")
        return "、".join(courses[code] for code in obj.course if code in courses)

    def dehydrate_consultant(self, obj):
        return self.consultant_name(obj.consultant_id)

    def dehydrate_campus(self, obj):
        return self.campus_name(obj.campus_id)

    def dehydrate_last_consult_date(self, obj):
        return obj.last_consult_date

    def dehydrate_next_date(self, obj):
        return obj.next_date

    def dehydrate_date(self, obj):
        return local_datetime(obj.date)
