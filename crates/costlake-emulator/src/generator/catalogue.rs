//! The synthetic enrollment's catalogue: regions, meter families with their prices, departments,
//! marketplace offers, and the words tags are made of. Data, not logic.

pub struct Region {
    pub display: &'static str,
    pub code: &'static str,
    pub meter_region: &'static str,
}

pub static REGIONS: &[Region] = &[
    Region {
        display: "US East",
        code: "eastus",
        meter_region: "US East",
    },
    Region {
        display: "US West",
        code: "westus",
        meter_region: "US West",
    },
    Region {
        display: "EU West",
        code: "westeurope",
        meter_region: "EU West",
    },
    Region {
        display: "EU North",
        code: "northeurope",
        meter_region: "EU North",
    },
    Region {
        display: "UK South",
        code: "uksouth",
        meter_region: "UK South",
    },
    Region {
        display: "JA East",
        code: "japaneast",
        meter_region: "JA East",
    },
    Region {
        display: "AP Southeast",
        code: "southeastasia",
        meter_region: "AP Southeast",
    },
    Region {
        display: "CH North",
        code: "switzerlandnorth",
        meter_region: "CH North",
    },
];

/// A kind of resource and the meters it is billed on.
pub struct Family {
    pub category: &'static str,
    /// FOCUS ServiceCategory and ServiceSubcategory, as Microsoft's FOCUS export files it.
    pub focus: (&'static str, &'static str),
    pub sub_category: &'static str,
    pub service_tier: &'static str,
    pub consumed_service: &'static str,
    pub resource_type: &'static str,
    pub name_prefix: &'static str,
    /// (meter name, unit of measure, base price of one unit of measure, 4 decimals)
    pub meters: &'static [(&'static str, &'static str, i64)],
    /// Largest daily quantity per row, in the meter's base unit.
    pub max_quantity: u64,
    pub billed_separately: bool,
}

pub static FAMILIES: &[Family] = &[
    Family {
        category: "Virtual Machines",
        focus: ("Compute", "Virtual Machines"),
        sub_category: "Dv3/DSv3 Series",
        service_tier: "Dv3/DSv3 Series",
        consumed_service: "Microsoft.Compute",
        resource_type: "virtualMachines",
        name_prefix: "vm",
        meters: &[
            ("D2 v3/D2s v3", "100 Hours", 9_6000),
            ("D4 v3/D4s v3", "100 Hours", 19_2000),
            ("D8 v3/D8s v3", "100 Hours", 38_4000),
        ],
        max_quantity: 24,
        billed_separately: false,
    },
    Family {
        category: "Virtual Machines",
        focus: ("Compute", "Virtual Machines"),
        sub_category: "BS Series",
        service_tier: "BS Series",
        consumed_service: "Microsoft.Compute",
        resource_type: "virtualMachines",
        name_prefix: "vmb",
        meters: &[("B2s", "10 Hours", 4160), ("B2ms", "10 Hours", 8320)],
        max_quantity: 24,
        billed_separately: false,
    },
    Family {
        category: "Storage",
        focus: ("Storage", "Storage Platforms"),
        sub_category: "Premium SSD Managed Disks",
        service_tier: "Premium SSD Managed Disks",
        consumed_service: "Microsoft.Compute",
        resource_type: "disks",
        name_prefix: "disk",
        meters: &[
            ("P10 LRS Disk", "1/Month", 19_7100),
            ("P30 LRS Disk", "1/Month", 135_1700),
        ],
        max_quantity: 1,
        billed_separately: false,
    },
    Family {
        category: "Storage",
        focus: ("Storage", "Storage Platforms"),
        sub_category: "Tables",
        service_tier: "Standard",
        consumed_service: "Microsoft.Storage",
        resource_type: "storageAccounts",
        name_prefix: "st",
        meters: &[
            ("Read Operations", "10,000 s", 36),
            ("Write Operations", "10,000 s", 500),
            ("LRS Data Stored", "1 GB/Month", 450),
        ],
        max_quantity: 5_000,
        billed_separately: false,
    },
    Family {
        category: "Bandwidth",
        focus: ("Networking", "Network Connectivity"),
        sub_category: "",
        service_tier: "Bandwidth",
        consumed_service: "Microsoft.Network",
        resource_type: "publicIPAddresses",
        name_prefix: "pip",
        meters: &[
            ("Data Transfer Out (GB)", "10 GB", 8700),
            ("Static IP Address Usage", "100 Hours", 3600),
        ],
        max_quantity: 200,
        billed_separately: false,
    },
    Family {
        category: "SQL Database",
        focus: ("Databases", "Relational Databases"),
        sub_category: "Single Standard",
        service_tier: "Standard",
        consumed_service: "Microsoft.Sql",
        resource_type: "servers/databases",
        name_prefix: "sqldb",
        meters: &[("S0 DTUs", "1/Day", 4839), ("S2 DTUs", "1/Day", 2_4194)],
        max_quantity: 1,
        billed_separately: false,
    },
    Family {
        category: "Azure App Service",
        focus: ("Web", "Application Platforms"),
        sub_category: "Premium v2 Plan",
        service_tier: "Premium v2 Plan",
        consumed_service: "Microsoft.Web",
        resource_type: "serverFarms",
        name_prefix: "asp",
        meters: &[
            ("P1 v2 App", "100 Hours", 14_6000),
            ("P2 v2 App", "100 Hours", 29_2000),
        ],
        max_quantity: 24,
        billed_separately: false,
    },
    Family {
        category: "Azure Cosmos DB",
        focus: ("Databases", "NoSQL Databases"),
        sub_category: "",
        service_tier: "Azure Cosmos DB",
        consumed_service: "Microsoft.DocumentDB",
        resource_type: "databaseAccounts",
        name_prefix: "cosmos",
        meters: &[
            ("100 RU/s", "100 Hours", 8_0000),
            ("Data Stored", "1 GB/Month", 2500),
        ],
        max_quantity: 240,
        billed_separately: false,
    },
    Family {
        category: "Log Analytics",
        focus: ("Management and Governance", "Observability"),
        sub_category: "",
        service_tier: "Log Analytics",
        consumed_service: "Microsoft.OperationalInsights",
        resource_type: "workspaces",
        name_prefix: "law",
        meters: &[("Data Ingestion", "1 GB", 2_7600)],
        max_quantity: 40,
        billed_separately: false,
    },
    Family {
        category: "Azure Kubernetes Service",
        focus: ("Compute", "Containers"),
        sub_category: "Standard",
        service_tier: "Uptime SLA",
        consumed_service: "Microsoft.ContainerService",
        resource_type: "managedClusters",
        name_prefix: "aks",
        meters: &[("Standard Uptime SLA", "1 Hour", 1000)],
        max_quantity: 24,
        billed_separately: false,
    },
    Family {
        category: "Azure DevOps",
        focus: ("Developer Tools", "Developer Platforms"),
        sub_category: "",
        service_tier: "Basic Plan",
        consumed_service: "Microsoft.VisualStudio",
        resource_type: "account",
        name_prefix: "ado",
        meters: &[("Basic User", "1/Month", 6_0000)],
        max_quantity: 1,
        billed_separately: true,
    },
    Family {
        category: "Azure Support",
        focus: ("Management and Governance", "Support"),
        sub_category: "",
        service_tier: "Standard Support",
        consumed_service: "Microsoft.Support",
        resource_type: "supportPlans",
        name_prefix: "support",
        meters: &[("Standard Support", "1/Day", 3_2800)],
        max_quantity: 1,
        billed_separately: true,
    },
];

pub struct Meter {
    pub index: usize,
    pub family: usize,
    pub region: usize,
    pub id: String,
    pub name: &'static str,
    pub unit: &'static str,
    pub block: u64,
    pub part_number: String,
    pub base_price: i64,
    /// Some meters are missing from the price sheet (as in real enrollments where a meter is
    /// billed before the sheet lists it).
    pub in_price_sheet: bool,
    /// Some meters are billed at a negotiated 10 % below the sheet price.
    pub discounted: bool,
}

impl Meter {
    pub fn family(&self) -> &'static Family {
        &FAMILIES[self.family]
    }
    pub fn region(&self) -> &'static Region {
        &REGIONS[self.region]
    }
    pub fn product(&self) -> String {
        let f = self.family();
        format!(
            "{} {} - {}",
            f.sub_category,
            self.name,
            self.region().display
        )
        .trim()
        .to_string()
    }
}

pub struct Department {
    pub id: i64,
    pub name: &'static str,
    pub cost_center: &'static str,
}

pub static DEPARTMENTS: &[Department] = &[
    Department {
        id: 3456,
        name: "Engineering",
        cost_center: "1001",
    },
    Department {
        id: 3457,
        name: "Data Platform",
        cost_center: "1002",
    },
    Department {
        id: 3458,
        name: "Marketing",
        cost_center: "2001",
    },
    Department {
        id: 3459,
        name: "Finance",
        cost_center: "3001",
    },
    Department {
        id: 3460,
        name: "Research & Development",
        cost_center: "1003",
    },
    Department {
        id: 3461,
        name: "Opérations Zürich",
        cost_center: "4001",
    },
];

pub(crate) const TAG_OWNERS: &[&str] = &[
    "alice@contoso.com",
    "bob@contoso.com",
    "chloé@contoso.com",
    "dmitri@contoso.com",
];
pub(crate) const ENVS: &[&str] = &["prod", "dev", "test", "staging"];
pub(crate) const RG_APPS: &[&str] = &[
    "checkout",
    "search",
    "billing",
    "analytics",
    "identity",
    "erp",
];
pub(crate) const APPS: &[&str] = &[
    "checkout",
    "search",
    "billing",
    "analytics",
    "identity",
    "会計システム",
];

/// A marketplace offer.
pub struct Offer {
    pub publisher: &'static str,
    pub offer: &'static str,
    pub plan: &'static str,
    pub meter_id: &'static str,
    pub unit: &'static str,
    pub rate: i64,
}

pub static OFFERS: &[Offer] = &[
    Offer {
        publisher: "Kemp Technologies",
        offer: "Virtual LoadMaster™ (VLM) for Azure",
        plan: "VLM-500",
        meter_id: "2core",
        unit: "1 Hour",
        rate: 3500,
    },
    Offer {
        publisher: "Datadog",
        offer: "Datadog - An Azure Native ISV Service",
        plan: "Pro",
        meter_id: "datadog-pro-host",
        unit: "1 Hour",
        rate: 2300,
    },
    Offer {
        publisher: "Canonical",
        offer: "Ubuntu Pro 22.04 LTS",
        plan: "pro-22_04-lts",
        meter_id: "ubuntu-pro-2core",
        unit: "1 Hour",
        rate: 100,
    },
    Offer {
        publisher: "Elastic",
        offer: "Elastic Cloud (Elasticsearch)",
        plan: "ec-azure-payg",
        meter_id: "elastic-ecu",
        unit: "1 Hour",
        rate: 4000,
    },
    Offer {
        publisher: "Fortinet",
        offer: "FortiGate NGFW",
        plan: "fortinet_fg-vm_payg_2023",
        meter_id: "4core",
        unit: "1 Hour",
        rate: 1_2000,
    },
    Offer {
        publisher: "SendGrid",
        offer: "Twilio SendGrid",
        plan: "silver",
        meter_id: "sendgrid-emails",
        unit: "1,000 Emails",
        rate: 1000,
    },
];
