import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
quarters = ['Q1', 'Q2', 'Q3', 'Q4']
revenue = [12, 19, 7, 15]
ax.bar(quarters, revenue, color='#4c72b0')
ax.set_title('Quarterly Revenue 2023')
ax.set_xlabel('Quarter')
ax.set_ylabel('Revenue (M$)')
