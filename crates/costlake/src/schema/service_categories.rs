//! FOCUS 1.2's ServiceCategory and ServiceSubcategory for Azure's meter categories: the one
//! table the `focus` view files each EA meter category under, one pair per meter category
//! since FOCUS wants one of each per service.

/// (meter category, ServiceCategory, ServiceSubcategory).
const SERVICE_CATEGORIES: &[(&str, &str, &str)] = &[
    ("Virtual Machines", "Compute", "Virtual Machines"),
    ("Virtual Machines Licenses", "Compute", "Virtual Machines"),
    ("Cloud Services", "Compute", "Virtual Machines"),
    ("Azure Kubernetes Service", "Compute", "Containers"),
    ("Container Instances", "Compute", "Containers"),
    ("Functions", "Compute", "Serverless Compute"),
    ("Azure Virtual Desktop", "Compute", "End User Computing"),
    ("Batch", "Compute", "Other (Compute)"),
    ("Storage", "Storage", "Storage Platforms"),
    ("Backup", "Storage", "Backup Storage"),
    ("Azure NetApp Files", "Storage", "File Storage"),
    ("Data Box", "Storage", "Other (Storage)"),
    ("SQL Database", "Databases", "Relational Databases"),
    ("SQL Managed Instance", "Databases", "Relational Databases"),
    (
        "Azure Database for PostgreSQL",
        "Databases",
        "Relational Databases",
    ),
    (
        "Azure Database for MySQL",
        "Databases",
        "Relational Databases",
    ),
    ("Azure Cosmos DB", "Databases", "NoSQL Databases"),
    ("Redis Cache", "Databases", "Caching"),
    ("Bandwidth", "Networking", "Network Connectivity"),
    ("VPN Gateway", "Networking", "Network Connectivity"),
    ("ExpressRoute", "Networking", "Network Connectivity"),
    ("Virtual Network", "Networking", "Network Infrastructure"),
    ("Load Balancer", "Networking", "Application Networking"),
    (
        "Application Gateway",
        "Networking",
        "Application Networking",
    ),
    ("Azure DNS", "Networking", "Network Routing"),
    ("Azure Front Door Service", "Networking", "Content Delivery"),
    ("Content Delivery Network", "Networking", "Content Delivery"),
    ("Azure Firewall", "Networking", "Network Security"),
    ("Network Watcher", "Networking", "Other (Networking)"),
    ("Azure App Service", "Web", "Application Platforms"),
    ("API Management", "Integration", "API Management"),
    ("Service Bus", "Integration", "Messaging"),
    ("Event Grid", "Integration", "Messaging"),
    ("Logic Apps", "Integration", "Workflow Orchestration"),
    (
        "Log Analytics",
        "Management and Governance",
        "Observability",
    ),
    (
        "Azure Monitor",
        "Management and Governance",
        "Observability",
    ),
    (
        "Insight and Analytics",
        "Management and Governance",
        "Observability",
    ),
    ("Azure Support", "Management and Governance", "Support"),
    (
        "Automation",
        "Management and Governance",
        "Other (Management and Governance)",
    ),
    ("Azure DevOps", "Developer Tools", "Developer Platforms"),
    (
        "Visual Studio",
        "Developer Tools",
        "Development Environments",
    ),
    (
        "Azure Synapse Analytics",
        "Analytics",
        "Analytics Platforms",
    ),
    ("Azure Databricks", "Analytics", "Analytics Platforms"),
    ("Azure Data Factory v2", "Analytics", "Data Processing"),
    ("HDInsight", "Analytics", "Data Processing"),
    ("Event Hubs", "Analytics", "Streaming Analytics"),
    ("Key Vault", "Security", "Secret Management"),
    (
        "Microsoft Defender for Cloud",
        "Security",
        "Security Posture Management",
    ),
    (
        "Advanced Data Security",
        "Security",
        "Security Posture Management",
    ),
    (
        "Advanced Threat Protection",
        "Security",
        "Threat Detection and Response",
    ),
    (
        "Cognitive Services",
        "AI and Machine Learning",
        "AI Platforms",
    ),
    (
        "Azure Machine Learning",
        "AI and Machine Learning",
        "Machine Learning",
    ),
    ("Azure OpenAI", "AI and Machine Learning", "Generative AI"),
    (
        "Azure Active Directory",
        "Identity",
        "Identity and Access Management",
    ),
    (
        "Microsoft Entra ID",
        "Identity",
        "Identity and Access Management",
    ),
];

/// The SQL `CASE` expressions that file `meter_category` (a column expression) under its
/// category and its subcategory; meter categories not listed are `Other` / `Other (Other)`.
pub fn case_sql(meter_category: &str) -> (String, String) {
    let case = |pick: fn(&(&'static str, &'static str, &'static str)) -> &'static str,
                other: &str| {
        let mut sql = format!("CASE {meter_category}");
        for row in SERVICE_CATEGORIES {
            sql.push_str(&format!(" WHEN '{}' THEN '{}'", row.0, pick(row)));
        }
        sql.push_str(&format!(" ELSE '{other}' END"));
        sql
    };
    (case(|r| r.1, "Other"), case(|r| r.2, "Other (Other)"))
}
